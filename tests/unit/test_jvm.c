/*
 * test_jvm.c - the direct-memory ceiling and Netty's chunk size as memtrace
 * works them out from a JVM's command line and environment (jvm.c), table
 * driven over real java command lines.
 *
 * Every expected value is what HotSpot (JDK 17) and Netty 4.1.48 really do;
 * the cases marked "checked against a real JVM" were confirmed with
 *   java FLAGS -XX:+PrintFlagsFinal -version | grep MaxHeapSize
 * and, for Netty, with tests/java/NettyLeak.java's "probe" mode, which
 * prints PlatformDependent.maxDirectMemory() and the pool's chunk size.
 *
 * Out of scope, as jvm.c documents: @argfiles (java @opts.txt) and
 * -XX:Flags=FILE are not read, nor the .hotspotrc file; quoting inside
 * JAVA_TOOL_OPTIONS is not handled either.  No case here uses them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libtrace.h"
#include "unit.h"

#define K 1024ull
#define M (1024ull * K)
#define G (1024ull * M)
#define T (1024ull * G)

#define PHYS (16 * G) /* physical memory unless a case says otherwise */
#define CHUNK (16 * M)

/* A java command line; NULL-terminated. */
#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

struct jcase {
	const char *name;
	const char *const *argv;
	const char *jto, *jdk, *jo; /* JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, _JAVA_OPTIONS */
	uint64_t phys, cgroup;	    /* phys 0: PHYS */
	uint64_t ceiling;
	const char *src;     /* the ceiling source must contain this */
	const char *not_src; /* and must not contain this (NULL: no check) */
	uint64_t chunk;	     /* 0: 16 MiB */
	const char *chunk_src;
};

#define SRC_DIRECT "-XX:MaxDirectMemorySize"
#define SRC_HEAP   "heap"
#define SRC_NETTY  "-Dio.netty.maxDirectMemory"
#define CHUNK_DEFAULT "default"
#define CHUNK_FLAGS   "pageSize << maxOrder"

static const struct jcase ceiling_cases[] = {
	/* -Xmx in every spelling HotSpot accepts. */
	{"xmx 2g", ARGV("java", "-Xmx2g", "Main"), .ceiling = 2 * G, .src = SRC_HEAP},
	{"xmx 2048m", ARGV("java", "-Xmx2048m", "Main"), .ceiling = 2 * G, .src = SRC_HEAP},
	{"xmx bytes", ARGV("java", "-Xmx2147483648", "Main"), .ceiling = 2 * G, .src = SRC_HEAP},
	{"xmx 2G", ARGV("java", "-Xmx2G", "Main"), .ceiling = 2 * G, .src = SRC_HEAP},
	{"xmx 3145728k", ARGV("java", "-Xmx3145728k", "Main"), .ceiling = 3 * G, .src = SRC_HEAP},
	{"MaxHeapSize 1g", ARGV("java", "-XX:MaxHeapSize=1g", "Main"), .ceiling = 1 * G,
	 .src = SRC_HEAP},
	/* Repeated: the last one wins, across both spellings. */
	{"xmx twice", ARGV("java", "-Xmx1g", "-Xmx512m", "Main"), .ceiling = 512 * M,
	 .src = SRC_HEAP},
	{"xmx then MaxHeapSize", ARGV("java", "-Xmx1g", "-XX:MaxHeapSize=3g", "Main"),
	 .ceiling = 3 * G, .src = SRC_HEAP},
	{"MaxHeapSize then xmx", ARGV("java", "-XX:MaxHeapSize=3g", "-Xmx1g", "Main"),
	 .ceiling = 1 * G, .src = SRC_HEAP},
	/* A malformed size is ignored by us (HotSpot refuses to start). */
	{"xmx garbage ignored", ARGV("java", "-Xmx1g", "-Xmxlots", "Main"), .ceiling = 1 * G,
	 .src = SRC_HEAP},

	/* -XX:MaxDirectMemorySize beats the heap. */
	{"direct 512m", ARGV("java", "-Xmx2g", "-XX:MaxDirectMemorySize=512m", "Main"),
	 .ceiling = 512 * M, .src = SRC_DIRECT},
	{"direct 512M", ARGV("java", "-XX:MaxDirectMemorySize=512M", "-Xmx2g", "Main"),
	 .ceiling = 512 * M, .src = SRC_DIRECT},
	{"direct bytes", ARGV("java", "-XX:MaxDirectMemorySize=536870912", "Main"),
	 .ceiling = 512 * M, .src = SRC_DIRECT},
	{"direct 1t", ARGV("java", "-XX:MaxDirectMemorySize=1t", "Main"), .ceiling = 1 * T,
	 .src = SRC_DIRECT},
	{"direct twice", ARGV("java", "-XX:MaxDirectMemorySize=1g", "-XX:MaxDirectMemorySize=256m",
			      "Main"),
	 .ceiling = 256 * M, .src = SRC_DIRECT},

	/* -Dio.netty.maxDirectMemory: > 0 wins over everything. */
	{"netty max wins", ARGV("java", "-XX:MaxDirectMemorySize=512m",
				"-Dio.netty.maxDirectMemory=1073741824", "-Xmx2g", "Main"),
	 .ceiling = 1 * G, .src = SRC_NETTY},
	/* 0: Netty leaves counting to the JDK, whose limit is MaxDirectMemorySize. */
	{"netty max 0", ARGV("java", "-XX:MaxDirectMemorySize=512m", "-Dio.netty.maxDirectMemory=0",
			     "Main"),
	 .ceiling = 512 * M, .src = "io.netty.maxDirectMemory=0"},
	{"netty max 0 names the JVM flag", ARGV("java", "-XX:MaxDirectMemorySize=512m",
						"-Dio.netty.maxDirectMemory=0", "Main"),
	 .ceiling = 512 * M, .src = SRC_DIRECT},
	/* Negative: "use the JVM's", and nothing about Netty in the source. */
	{"netty max -1", ARGV("java", "-XX:MaxDirectMemorySize=512m", "-Dio.netty.maxDirectMemory=-1",
			      "Main"),
	 .ceiling = 512 * M, .src = SRC_DIRECT, .not_src = "netty"},
	{"netty max -1 heap", ARGV("java", "-Xmx768m", "-Dio.netty.maxDirectMemory=-1", "Main"),
	 .ceiling = 768 * M, .src = SRC_HEAP, .not_src = "netty"},
	{"netty max not a number", ARGV("java", "-Xmx768m", "-Dio.netty.maxDirectMemory=1g", "Main"),
	 .ceiling = 768 * M, .src = SRC_HEAP},
	{"netty max last wins", ARGV("java", "-Dio.netty.maxDirectMemory=1073741824",
				     "-Dio.netty.maxDirectMemory=536870912", "Main"),
	 .ceiling = 512 * M, .src = SRC_NETTY},

	/* No heap flag: MaxRAMPercentage (default 25) of RAM. */
	{"default 25% of phys", ARGV("java", "Main"), .ceiling = 4 * G, .src = "physical"},
	{"MaxRAMPercentage 50", ARGV("java", "-XX:MaxRAMPercentage=50", "Main"), .ceiling = 8 * G,
	 .src = "MaxRAMPercentage"},
	{"MaxRAMPercentage 12.5", ARGV("java", "-XX:MaxRAMPercentage=12.5", "Main"),
	 .ceiling = 2 * G, .src = "MaxRAMPercentage"},
	{"MaxRAMPercentage other phys", ARGV("java", "-XX:MaxRAMPercentage=50", "Main"),
	 .phys = 6 * G, .ceiling = 3 * G, .src = "MaxRAMPercentage"},
	{"MaxRAMFraction 2", ARGV("java", "-XX:MaxRAMFraction=2", "Main"), .ceiling = 8 * G,
	 .src = "MaxRAMFraction"},
	{"MaxRAM 8g", ARGV("java", "-XX:MaxRAM=8g", "Main"), .ceiling = 2 * G, .src = "MaxRAM"},
	{"MaxRAM and percentage", ARGV("java", "-XX:MaxRAM=8g", "-XX:MaxRAMPercentage=50", "Main"),
	 .ceiling = 4 * G, .src = "MaxRAMPercentage"},
	{"xmx beats MaxRAMPercentage", ARGV("java", "-XX:MaxRAMPercentage=50", "-Xmx1g", "Main"),
	 .ceiling = 1 * G, .src = SRC_HEAP},
	/* Containers: 25% of the cgroup limit, unless -XX:-UseContainerSupport. */
	{"cgroup limit", ARGV("java", "Main"), .cgroup = 4 * G, .ceiling = 1 * G, .src = "cgroup"},
	{"cgroup above phys", ARGV("java", "Main"), .cgroup = 64 * G, .ceiling = 4 * G,
	 .src = "physical"},
	{"no container support", ARGV("java", "-XX:-UseContainerSupport", "Main"), .cgroup = 4 * G,
	 .ceiling = 4 * G, .src = "physical", .not_src = "cgroup"},
	{"container support back on", ARGV("java", "-XX:-UseContainerSupport",
					   "-XX:+UseContainerSupport", "Main"),
	 .cgroup = 4 * G, .ceiling = 1 * G, .src = "cgroup"},
	{"cgroup and percentage", ARGV("java", "-XX:MaxRAMPercentage=75", "Main"), .cgroup = 4 * G,
	 .ceiling = 3 * G, .src = "MaxRAMPercentage"},

	/* Only options before the main class / -jar FILE / -m MODULE are the JVM's. */
	{"after -jar", ARGV("java", "-jar", "app.jar", "-Xmx9g", "-XX:MaxDirectMemorySize=9g"),
	 .ceiling = 4 * G, .src = "physical"},
	{"before -jar", ARGV("java", "-Xmx1g", "-jar", "app.jar", "-Xmx9g"), .ceiling = 1 * G,
	 .src = SRC_HEAP},
	{"after main class", ARGV("java", "-Xmx1g", "com.example.Main", "-Xmx9g",
				  "-Dio.netty.maxDirectMemory=5"),
	 .ceiling = 1 * G, .src = SRC_HEAP},
	{"after -m", ARGV("java", "-Xmx1g", "-m", "app/app.Main", "-Xmx9g"), .ceiling = 1 * G,
	 .src = SRC_HEAP},
	{"after --module", ARGV("java", "--module", "app/app.Main", "-Xmx9g"), .ceiling = 4 * G,
	 .src = "physical"},
	/* An option's value that looks like a flag is the value, not a flag. */
	{"-cp value like a flag", ARGV("java", "-cp", "-Xmx9g", "-Xmx1g", "Main"), .ceiling = 1 * G,
	 .src = SRC_HEAP},
	{"-classpath value like a flag", ARGV("java", "-classpath", "-XX:MaxDirectMemorySize=9g",
					      "-Xmx1g", "Main"),
	 .ceiling = 1 * G, .src = SRC_HEAP},
	{"--class-path value like a flag", ARGV("java", "--class-path", "-Xmx9g", "Main"),
	 .ceiling = 4 * G, .src = "physical"},
	{"--add-opens value", ARGV("java", "--add-opens", "java.base/java.nio=ALL-UNNAMED",
				   "-XX:MaxDirectMemorySize=256m", "Main"),
	 .ceiling = 256 * M, .src = SRC_DIRECT},
	/* The word after -cp is skipped, but parsing goes on after it. */
	{"flags after -cp value", ARGV("java", "-cp", "lib/a.jar:lib/b.jar",
				       "-XX:MaxDirectMemorySize=256m", "Main", "-Xmx9g"),
	 .ceiling = 256 * M, .src = SRC_DIRECT},
	{"full path launcher", ARGV("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-Xmx1g", "Main"),
	 .ceiling = 1 * G, .src = SRC_HEAP},

	/* Environment: JAVA_TOOL_OPTIONS < JDK_JAVA_OPTIONS/command line < _JAVA_OPTIONS. */
	{"JAVA_TOOL_OPTIONS alone", ARGV("java", "Main"), .jto = "-Xmx1g", .ceiling = 1 * G,
	 .src = SRC_HEAP},
	{"command line beats JAVA_TOOL_OPTIONS", ARGV("java", "-Xmx2g", "Main"), .jto = "-Xmx1g",
	 .ceiling = 2 * G, .src = SRC_HEAP},
	{"_JAVA_OPTIONS beats command line", ARGV("java", "-Xmx2g", "Main"), .jto = "-Xmx1g",
	 .jo = "-Xmx3g", .ceiling = 3 * G, .src = SRC_HEAP},
	{"JDK_JAVA_OPTIONS beats JAVA_TOOL_OPTIONS", ARGV("java", "Main"), .jto = "-Xmx1g",
	 .jdk = "-Xmx4g", .ceiling = 4 * G, .src = SRC_HEAP},
	{"command line beats JDK_JAVA_OPTIONS", ARGV("java", "-Xmx2g", "Main"), .jdk = "-Xmx4g",
	 .ceiling = 2 * G, .src = SRC_HEAP},
	{"_JAVA_OPTIONS beats JDK_JAVA_OPTIONS", ARGV("java", "Main"), .jdk = "-Xmx4g",
	 .jo = "-Xmx3g", .ceiling = 3 * G, .src = SRC_HEAP},
	{"env words and whitespace", ARGV("java", "Main"),
	 .jto = "  -Xss512k\t-XX:MaxDirectMemorySize=300m  -Xmx1g\n", .ceiling = 300 * M,
	 .src = SRC_DIRECT},
	{"netty flag in env overridden", ARGV("java", "-Dio.netty.maxDirectMemory=1073741824", "Main"),
	 .jto = "-Dio.netty.maxDirectMemory=536870912", .ceiling = 1 * G, .src = SRC_NETTY},
	{"_JAVA_OPTIONS netty 0", ARGV("java", "-Dio.netty.maxDirectMemory=1073741824",
				       "-XX:MaxDirectMemorySize=512m", "Main"),
	 .jo = "-Dio.netty.maxDirectMemory=0", .ceiling = 512 * M,
	 .src = "io.netty.maxDirectMemory=0"},
	{"env after -jar still counts", ARGV("java", "-jar", "app.jar", "-Xmx9g"),
	 .jo = "-XX:MaxDirectMemorySize=128m", .ceiling = 128 * M, .src = SRC_DIRECT},
};

static const struct jcase chunk_cases[] = {
	{"chunk default", ARGV("java", "Main"), .ceiling = 4 * G, .src = "physical",
	 .chunk = 16 * M, .chunk_src = CHUNK_DEFAULT},
	{"pageSize 4096 maxOrder 12", ARGV("java", "-Dio.netty.allocator.pageSize=4096",
					   "-Dio.netty.allocator.maxOrder=12", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 16 * M, .chunk_src = CHUNK_FLAGS},
	{"maxOrder 9", ARGV("java", "-Dio.netty.allocator.maxOrder=9", "Main"), .ceiling = 4 * G,
	 .src = "physical", .chunk = 4 * M, .chunk_src = CHUNK_FLAGS},
	{"pageSize 16384", ARGV("java", "-Dio.netty.allocator.pageSize=16384", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 32 * M, .chunk_src = CHUNK_FLAGS},
	{"pageSize 1000 invalid", ARGV("java", "-Dio.netty.allocator.pageSize=1000", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 16 * M, .chunk_src = CHUNK_DEFAULT},
	{"pageSize 2048 below minimum", ARGV("java", "-Dio.netty.allocator.pageSize=2048", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 16 * M, .chunk_src = CHUNK_DEFAULT},
	{"pageSize 12288 not a power of 2", ARGV("java", "-Dio.netty.allocator.pageSize=12288",
						 "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 16 * M, .chunk_src = CHUNK_DEFAULT},
	{"maxOrder 15 invalid", ARGV("java", "-Dio.netty.allocator.maxOrder=15", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 16 * M, .chunk_src = CHUNK_DEFAULT},
	/* Checked against Netty 4.1.48: an invalid pageSize falls back alone (4 MiB). */
	{"pageSize 1000 maxOrder 9", ARGV("java", "-Dio.netty.allocator.pageSize=1000",
					  "-Dio.netty.allocator.maxOrder=9", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 4 * M, .chunk_src = CHUNK_FLAGS},
	/* Checked against Netty 4.1.48: 65536 << 14 is exactly the 1 GiB maximum. */
	{"pageSize 65536 maxOrder 14", ARGV("java", "-Dio.netty.allocator.pageSize=65536",
					    "-Dio.netty.allocator.maxOrder=14", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 1 * G, .chunk_src = CHUNK_FLAGS},
	{"chunk flags in JAVA_TOOL_OPTIONS", ARGV("java", "Main"),
	 .jto = "-Dio.netty.allocator.maxOrder=10", .ceiling = 4 * G, .src = "physical",
	 .chunk = 8 * M, .chunk_src = CHUNK_FLAGS},
	{"chunk flags after main class ignored", ARGV("java", "Main",
						      "-Dio.netty.allocator.maxOrder=9"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 16 * M, .chunk_src = CHUNK_DEFAULT},
};

/*
 * Where HotSpot and Netty, run for real, disagreed with the rules jvm.c
 * first stated.  Each was checked against JDK 17.0.15 / Netty 4.1.48 (see
 * the top comment) and reported; some have been fixed since.
 */
static const struct jcase edge_cases[] = {
	/*
	 * Found by fuzz/jvm-fuzzer.c: a percentage out of 0..100 made a
	 * negative double into a byte count (undefined behaviour).  HotSpot
	 * refuses to start with one ("outside the allowed range"), so it
	 * changes nothing here: the heap is worked out as if it were absent.
	 */
	{"negative MinRAMPercentage ignored",
	 ARGV("java", "-XX:MaxRAM=1g", "-XX:MinRAMPercentage=-52", "Main"), .ceiling = 256 * M,
	 .src = "25%"},
	{"MaxRAMPercentage NaN ignored", ARGV("java", "-XX:MaxRAM=8g", "-XX:MaxRAMPercentage=nan", "Main"),
	 .ceiling = 2 * G, .src = "25%"},
	{"MaxRAMPercentage above 100 ignored",
	 ARGV("java", "-XX:MaxRAM=8g", "-XX:MaxRAMPercentage=1e300", "Main"), .ceiling = 2 * G,
	 .src = "25%"},
	/*
	 * HotSpot ignores MaxRAMFraction whenever MaxRAMPercentage is given
	 * (it converts the deprecated flag only while MaxRAMPercentage is at
	 * its default), whatever the order:
	 *   java -XX:MaxRAM=8g -XX:MaxRAMPercentage=50 -XX:MaxRAMFraction=4 -> 4 GiB
	 */
	{"MaxRAMPercentage beats a later MaxRAMFraction",
	 ARGV("java", "-XX:MaxRAM=8g", "-XX:MaxRAMPercentage=50", "-XX:MaxRAMFraction=4", "Main"),
	 .ceiling = 4 * G, .src = "MaxRAMPercentage"},
	{"MaxRAMPercentage beats an earlier MaxRAMFraction",
	 ARGV("java", "-XX:MaxRAM=8g", "-XX:MaxRAMFraction=4", "-XX:MaxRAMPercentage=50", "Main"),
	 .ceiling = 4 * G, .src = "MaxRAMPercentage"},
	/*
	 * Small memory: when MinRAMPercentage (50) of RAM is below the default
	 * MaxHeapSize (~126 MiB), HotSpot takes 50%, not 25%:
	 *   java -XX:MaxRAM=128m -XX:+PrintFlagsFinal -version -> MaxHeapSize 67108864
	 * A container limited to 128 MiB gets a 64 MiB heap, hence a 64 MiB
	 * direct-memory limit.
	 */
	{"128 MiB cgroup: MinRAMPercentage", ARGV("java", "Main"), .cgroup = 128 * M,
	 .ceiling = 64 * M, .src = "cgroup"},
	/*
	 * Netty validates pageSize and maxOrder separately: a valid pageSize
	 * whose chunk would pass 1 GiB keeps its pageSize and only maxOrder
	 * falls back to 11.  NettyLeak probe with
	 *   -Dio.netty.allocator.pageSize=131072 -Dio.netty.allocator.maxOrder=14
	 * prints chunk=268435456 (131072 << 11).
	 */
	{"pageSize kept when maxOrder overflows", ARGV("java", "-Dio.netty.allocator.pageSize=131072",
						       "-Dio.netty.allocator.maxOrder=14", "Main"),
	 .ceiling = 4 * G, .src = "physical", .chunk = 256 * M, .chunk_src = CHUNK_FLAGS},
	/*
	 * Netty reads the property with Long.parseLong(value.trim()), which
	 * takes a leading '+': NettyLeak probe with
	 * -Dio.netty.maxDirectMemory=+1073741824 prints max=1073741824.
	 */
	{"netty max with a plus sign", ARGV("java", "-Xmx768m", "-Dio.netty.maxDirectMemory=+1073741824",
					    "Main"),
	 .ceiling = 1 * G, .src = SRC_NETTY},
	/* Explicit MinRAMPercentage: java -XX:MaxRAM=200m -XX:MinRAMPercentage=25 -> 50 MiB. */
	{"MinRAMPercentage given", ARGV("java", "-XX:MaxRAM=200m", "-XX:MinRAMPercentage=25", "Main"),
	 .ceiling = 50 * M, .src = "MaxRAM"},
	/* Not small: java -XX:MaxRAM=1g -XX:MinRAMPercentage=80 -> 256 MiB (25%). */
	{"MinRAMPercentage not small", ARGV("java", "-XX:MaxRAM=1g", "-XX:MinRAMPercentage=80", "Main"),
	 .ceiling = 256 * M, .src = "MaxRAM"},
	/*
	 * HotSpot aligns MaxHeapSize up to its heap alignment, 2 MiB with 4 KiB
	 * pages (card size 512 x page size), whatever the collector:
	 *   java -XX:MaxRAM=8g -XX:MaxRAMPercentage=1 ... -> MaxHeapSize 132120576
	 *   java -XX:MaxRAM=300m ...                     -> MaxHeapSize 132120576
	 * (the default MaxHeapSize, 96 MiB * 1.3 = 130862284, aligned up), and
	 * on this test machine's 25276510208 bytes of RAM, java with no flags
	 * gets 6320816128 (25% is 6319127552), which Netty reports as its limit.
	 */
	{"heap floor aligned (MaxRAMPercentage 1)", ARGV("java", "-XX:MaxRAM=8g",
							 "-XX:MaxRAMPercentage=1", "Main"),
	 .ceiling = 132120576, .src = "heap"},
	{"heap floor aligned (300 MiB)", ARGV("java", "-XX:MaxRAM=300m", "Main"),
	 .ceiling = 132120576, .src = "heap"},
	{"25% aligned up to 2 MiB", ARGV("java", "Main"), .phys = 25276510208ull,
	 .ceiling = 6320816128ull, .src = "physical"},
};

/* Run one case through mt_jvm_limits() and compare. */
static void check_case(const struct jcase *c)
{
	struct mt_jvm_env env = {
		.java_tool_options = c->jto,
		.jdk_java_options = c->jdk,
		.java_options = c->jo,
		.phys_mem = c->phys ? c->phys : PHYS,
		.cgroup_limit = c->cgroup,
	};
	struct mt_jvm_limits lim;

	memset(&lim, 0xa5, sizeof(lim));
	mt_jvm_limits((char *const *)c->argv, &env, &lim);
	ck_assert_msg(lim.ceiling == c->ceiling, "%s: ceiling %llu, want %llu (source \"%s\")",
		      c->name, (unsigned long long)lim.ceiling, (unsigned long long)c->ceiling,
		      lim.ceiling_source);
	ck_assert_msg(memchr(lim.ceiling_source, '\0', sizeof(lim.ceiling_source)) != NULL,
		      "%s: ceiling source not terminated", c->name);
	ck_assert_msg(strstr(lim.ceiling_source, c->src) != NULL,
		      "%s: ceiling source \"%s\" does not mention \"%s\"", c->name,
		      lim.ceiling_source, c->src);
	if (c->not_src)
		ck_assert_msg(strstr(lim.ceiling_source, c->not_src) == NULL,
			      "%s: ceiling source \"%s\" mentions \"%s\"", c->name,
			      lim.ceiling_source, c->not_src);
	ck_assert_msg(lim.chunk_size == (c->chunk ? c->chunk : CHUNK),
		      "%s: chunk %llu, want %llu (source \"%s\")", c->name,
		      (unsigned long long)lim.chunk_size,
		      (unsigned long long)(c->chunk ? c->chunk : CHUNK), lim.chunk_source);
	ck_assert_msg(memchr(lim.chunk_source, '\0', sizeof(lim.chunk_source)) != NULL,
		      "%s: chunk source not terminated", c->name);
	ck_assert_msg(strstr(lim.chunk_source, c->chunk_src ? c->chunk_src : CHUNK_DEFAULT) != NULL,
		      "%s: chunk source \"%s\" does not mention \"%s\"", c->name, lim.chunk_source,
		      c->chunk_src ? c->chunk_src : CHUNK_DEFAULT);
}

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

START_TEST(test_ceiling_case)
{
	check_case(&ceiling_cases[_i]);
}
END_TEST

START_TEST(test_chunk_case)
{
	check_case(&chunk_cases[_i]);
}
END_TEST

START_TEST(test_edge_case)
{
	check_case(&edge_cases[_i]);
}
END_TEST

/* The default chunk source names the numbers; flag-derived names the flags. */
START_TEST(test_chunk_sources_exact)
{
	struct mt_jvm_env env = {.phys_mem = PHYS};
	struct mt_jvm_limits lim;

	mt_jvm_limits((char *const *)ARGV("java", "Main"), &env, &lim);
	ck_assert_str_eq(lim.chunk_source, "Netty's default (8192 << 11)");
	mt_jvm_limits((char *const *)ARGV("java", "-Dio.netty.allocator.maxOrder=9", "Main"), &env,
		      &lim);
	ck_assert_str_eq(lim.chunk_source, "-Dio.netty.allocator.pageSize << maxOrder");
	mt_jvm_limits((char *const *)ARGV("java", "-XX:MaxDirectMemorySize=1g", "Main"), &env, &lim);
	ck_assert_str_eq(lim.ceiling_source, "-XX:MaxDirectMemorySize");
	mt_jvm_limits((char *const *)ARGV("java", "-Dio.netty.maxDirectMemory=5", "Main"), &env,
		      &lim);
	ck_assert_str_eq(lim.ceiling_source, "-Dio.netty.maxDirectMemory");
	ck_assert_uint_eq(lim.ceiling, 5);
}
END_TEST

/* A bare "java" with nothing else, and NULL environment strings, are fine. */
START_TEST(test_bare_java)
{
	struct mt_jvm_env env = {.phys_mem = 8 * G};
	struct mt_jvm_limits lim;

	mt_jvm_limits((char *const *)ARGV("java"), &env, &lim);
	ck_assert_uint_eq(lim.ceiling, 2 * G);
	ck_assert_uint_eq(lim.chunk_size, 16 * M);
	env.java_tool_options = "";
	env.jdk_java_options = "   ";
	env.java_options = "\t";
	mt_jvm_limits((char *const *)ARGV("java"), &env, &lim);
	ck_assert_uint_eq(lim.ceiling, 2 * G);
}
END_TEST

START_TEST(test_is_java)
{
	static const struct {
		const char *argv0;
		int java;
	} t[] = {
		{"java", 1},
		{"/usr/lib/jvm/x/bin/java", 1},
		{"/usr/bin/java", 1},
		{"./java", 1},
		{"javac", 0},
		{"/usr/bin/javac", 0},
		{"myjava", 0},
		{"/opt/myjava", 0},
		{"java.sh", 0},
		{"/usr/bin/java/", 0},
		{"", 0},
		{"jav", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(!!mt_jvm_is_java(t[i].argv0) == t[i].java,
			      "mt_jvm_is_java(\"%s\") = %d, want %d", t[i].argv0,
			      mt_jvm_is_java(t[i].argv0), t[i].java);
}
END_TEST

/* A JDK 17 thread dump: Java threads, a VM thread, names with quotes and blanks. */
START_TEST(test_jattach_parse)
{
	char dump[] =
		"2026-01-01 00:00:00\n"
		"Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1 mixed mode):\n"
		"\n"
		"\"leak-worker-pool-1\" #14 prio=5 os_prio=0 cpu=1.2ms elapsed=3.1s "
		"tid=0x00007f0000001000 nid=0x1f2e waiting on condition  [0x00007f00]\n"
		"   java.lang.Thread.State: TIMED_WAITING (sleeping)\n"
		"\tat java.lang.Thread.sleep(java.base@17/Native Method)\n"
		"\n"
		"\"say \"hi\" nid=0x1\" #15 daemon prio=5 os_prio=0 cpu=0.1ms elapsed=3.0s "
		"tid=0x00007f0000002000 nid=0x1f2f runnable  [0x00007f01]\n"
		"   java.lang.Thread.State: RUNNABLE\n"
		"\n"
		"\"VM Thread\" os_prio=0 cpu=3.0ms elapsed=3.2s tid=0x00007f0000003000 nid=0x1f20 "
		"runnable  \n"
		"\n"
		"JNI global refs: 6, weak refs: 0\n";
	struct mt_jthread t[4];
	size_t n = mt_jattach_parse(dump, t, 4);

	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(t[0].tid, 0x1f2e);
	ck_assert_str_eq(t[0].name, "leak-worker-pool-1");
	ck_assert_str_eq(t[0].state, "TIMED_WAITING (sleeping)");
	ck_assert_int_eq(t[1].tid, 0x1f2f);
	ck_assert_str_eq(t[1].name, "say \"hi\" nid=0x1");
	ck_assert_str_eq(t[1].state, "RUNNABLE");
	ck_assert_int_eq(t[2].tid, 0x1f20);
	ck_assert_str_eq(t[2].name, "VM Thread");
	ck_assert_str_eq(t[2].state, "runnable");
}
END_TEST

/*
 * The io.netty.versions.properties of Debian's netty-buffer 4.1.48 jar
 * (libnetty-java), as it is in the jar: netty-parent's generated form,
 * five lines per module.
 */
static const char debian_props[] =
	"#Generated by netty-parent/pom.xml\n"
	"#Mon, 09 Feb 2026 10:26:12 +0000\n"
	"\n"
	"netty-buffer.version=4.1.48.Final\n"
	"netty-buffer.buildDate=2026-02-09 10\\:26\\:12 +0000\n"
	"netty-buffer.commitDate=2026-02-09 10\\:26\\:12 +0000\n"
	"netty-buffer.shortCommitHash=0\n"
	"netty-buffer.longCommitHash=0000000000000000000000000000000000000000\n"
	"netty-buffer.repoStatus=clean\n";

/* The same form for the modules of a newer Netty, as a shaded jar merges them (CRLF ends). */
static const char *props_for(const char *version, char *buf, size_t size)
{
	snprintf(buf, size,
		 "#Generated by netty-parent/pom.xml\r\n"
		 "netty-common.version=%s\r\n"
		 "netty-common.repoStatus=clean\r\n"
		 "netty-buffer.version=%s\r\n"
		 "netty-buffer.shortCommitHash=abc1234\r\n"
		 "netty-transport.version=%s\r\n",
		 version, version, version);
	return buf;
}

START_TEST(test_netty_version_debian)
{
	struct mt_netty v;

	ck_assert_int_eq(mt_netty_version(debian_props, strlen(debian_props), &v), 0);
	ck_assert_int_eq(v.version[0], 4);
	ck_assert_int_eq(v.version[1], 1);
	ck_assert_int_eq(v.version[2], 48);
	ck_assert_str_eq(v.artifact, "netty-buffer");
	/* No version line at all, or a module version that is not one. */
	ck_assert_int_eq(mt_netty_version("#x\nnetty-buffer.buildDate=2020\n", 30, &v), -ENOENT);
	ck_assert_int_eq(mt_netty_version("netty-buffer.version=Final\n", 27, &v), -ENOENT);
	ck_assert_int_eq(v.version[0], 0);
}
END_TEST

/* netty-buffer's version wins over another module's, wherever it stands. */
START_TEST(test_netty_version_modules)
{
	static const char mixed[] = "netty-common.version=4.1.70.Final\n"
				    "netty-buffer.version=4.1.100.Final\n"
				    "netty-codec.version=4.1.60.Final\n";
	static const char other[] = "netty-codec-http.version=4.2.1.Final\n";
	char buf[512];
	struct mt_netty v;

	ck_assert_int_eq(mt_netty_version(mixed, strlen(mixed), &v), 0);
	ck_assert_int_eq(v.version[2], 100);
	ck_assert_str_eq(v.artifact, "netty-buffer");
	ck_assert_int_eq(mt_netty_version(other, strlen(other), &v), 0);
	ck_assert_int_eq(v.version[1], 2);
	ck_assert_str_eq(v.artifact, "netty-codec-http");
	props_for("4.1.75.Final", buf, sizeof(buf));
	ck_assert_int_eq(mt_netty_version(buf, strlen(buf), &v), 0);
	ck_assert_int_eq(v.version[2], 75);
}
END_TEST

/* The chunk size each version and flag gives. */
START_TEST(test_netty_chunk_rules)
{
	static const struct {
		const char *version; /* NULL: unknown */
		const char *flags[3];
		uint64_t chunk;	     /* 0: sizes vary */
		const char *why;
	} t[] = {
		{"4.1.48.Final", {NULL}, 16u << 20, "Netty 4.1.48's default (8192 << 11)"},
		{"4.1.74.Final", {NULL}, 16u << 20, "Netty 4.1.74's default (8192 << 11)"},
		{"4.1.75.Final", {NULL}, 4u << 20, "Netty 4.1.75's default (8192 << 9)"},
		{"4.1.118.Final", {NULL}, 4u << 20, "Netty 4.1.118's default (8192 << 9)"},
		{NULL, {NULL}, 16u << 20, "Netty's default (8192 << 11)"},
		{"4.2.0.Final", {NULL}, 0, "Netty 4.2.0: adaptive allocator, chunk sizes vary"},
		{"4.2.1.Final", {"-Dio.netty.allocator.type=pooled"}, 4u << 20,
		 "Netty 4.2.1's default (8192 << 9)"},
		{"4.1.48.Final", {"-Dio.netty.allocator.type=adaptive"}, 0,
		 "Netty 4.1.48 io.netty.allocator.type=adaptive: adaptive allocator, chunk sizes vary"},
		{"4.1.100.Final", {"-Dio.netty.allocator.type=unpooled"}, 0,
		 "io.netty.allocator.type=unpooled: no pool chunks"},
		/* An unknown type: 4.1 falls back to pooled, 4.2 to adaptive. */
		{"4.1.48.Final", {"-Dio.netty.allocator.type=weird"}, 16u << 20,
		 "Netty 4.1.48's default (8192 << 11)"},
		{"4.2.0.Final", {"-Dio.netty.allocator.type=weird"}, 0,
		 "Netty 4.2.0: adaptive allocator, chunk sizes vary"},
		/* Flags beat the version's default, each on its own. */
		{"4.1.48.Final", {"-Dio.netty.allocator.maxOrder=9"}, 4u << 20,
		 "-Dio.netty.allocator.pageSize << maxOrder"},
		{"4.1.100.Final", {"-Dio.netty.allocator.maxOrder=11"}, 16u << 20,
		 "-Dio.netty.allocator.pageSize << maxOrder"},
		{"4.1.100.Final", {"-Dio.netty.allocator.pageSize=16384"}, 8u << 20,
		 "-Dio.netty.allocator.pageSize << maxOrder"},
		{"4.1.100.Final", {"-Dio.netty.allocator.maxOrder=15"}, 4u << 20,
		 "Netty 4.1.100's default (8192 << 9)"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *argv[8] = {"java"};
		struct mt_jvm_env env = {.phys_mem = PHYS};
		struct mt_jvm_limits lim;
		struct mt_netty v;
		char buf[512], why[128];
		int n = 1;
		uint64_t c;

		memset(&v, 0, sizeof(v));
		for (int k = 0; k < 3 && t[i].flags[k]; k++)
			argv[n++] = t[i].flags[k];
		argv[n++] = "Main";
		argv[n] = NULL;
		mt_jvm_limits((char *const *)argv, &env, &lim);
		if (t[i].version) {
			props_for(t[i].version, buf, sizeof(buf));
			ck_assert_int_eq(mt_netty_version(buf, strlen(buf), &v), 0);
		}
		c = mt_netty_chunk(&lim, &v, why, sizeof(why));
		ck_assert_msg(c == t[i].chunk, "case %zu (%s): chunk %llu, want %llu", i,
			      t[i].version ? t[i].version : "unknown", (unsigned long long)c,
			      (unsigned long long)t[i].chunk);
		ck_assert_str_eq(why, t[i].why);
	}
}
END_TEST

/* The real jar, when Debian's libnetty-java is installed. */
START_TEST(test_netty_jar_debian)
{
	struct mt_netty v;
	int fd = open("/usr/share/java/netty-buffer.jar", O_RDONLY);

	if (fd < 0)
		return; /* not installed: the text test above covers the rule */
	ck_assert_int_eq(mt_netty_jar(fd, &v), 0);
	close(fd);
	ck_assert_int_eq(v.version[0], 4);
	ck_assert_int_eq(v.version[1], 1);
	ck_assert_str_eq(v.artifact, "netty-buffer");
	/* A jar without the file, and a file that is no zip. */
	fd = open("/usr/share/java/netty-all.jar", O_RDONLY);
	if (fd >= 0) {
		ck_assert_int_eq(mt_netty_jar(fd, &v), -ENOENT);
		close(fd);
	}
	fd = open("/proc/self/exe", O_RDONLY);
	ck_assert_int_lt(mt_netty_jar(fd, &v), 0);
	close(fd);
}
END_TEST

/* Write TEXT to DIR/NAME. */
static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* @argfiles, JDK_JAVA_OPTIONS' @argfiles, -XX:Flags= and -XX:VMOptionsFile= files. */
START_TEST(test_flag_files)
{
	char dir[] = "/tmp/mt-jvm-XXXXXX", abs[600];
	struct mt_jvm_env env = {.phys_mem = PHYS, .root = "", .cwd = dir};
	struct mt_jvm_limits lim;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_file(dir, "args", "# the service's options\n"
				"-XX:MaxDirectMemorySize=256m   -Dio.netty.allocator.maxOrder=9\n"
				"'-Dio.netty.allocator.type=pooled' # quoted\n"
				"-cp \"/opt/a b.jar\" Main -Dio.netty.allocator.maxOrder=7\n");
	write_file(dir, "env-args", "-Dio.netty.allocator.pageSize=16384\n");
	write_file(dir, ".hotspotrc", "# HotSpot flags\n+UseSerialGC\nMaxDirectMemorySize=100m\n");
	write_file(dir, "vmopts", "-XX:MaxDirectMemorySize=300m -Dio.netty.allocator.maxOrder=10\n");

	/* The argfile's options count; the main class in it ends them. */
	mt_jvm_limits((char *const *)ARGV("java", "@args"), &env, &lim);
	ck_assert_uint_eq(lim.ceiling, 256u << 20);
	ck_assert_uint_eq(lim.chunk_size, 4u << 20);
	ck_assert_int_eq(lim.chunk_given, 1);
	ck_assert_str_eq(lim.allocator_type, "pooled");
	/* An absolute name is read under ROOT. */
	snprintf(abs, sizeof(abs), "@%s/args", dir);
	mt_jvm_limits((char *const *)ARGV("java", abs), &env, &lim);
	ck_assert_uint_eq(lim.chunk_size, 4u << 20);
	/* A later option wins over the argfile's; "@@" is no argfile. */
	mt_jvm_limits((char *const *)ARGV("java", "@args", "-Dio.netty.allocator.maxOrder=11"),
		      &env, &lim);
	ck_assert_uint_eq(lim.chunk_size, 4u << 20); /* after the main class: an argument */
	mt_jvm_limits((char *const *)ARGV("java", "@@args", "Main"), &env, &lim);
	ck_assert_uint_eq(lim.chunk_size, 16u << 20);
	/* JDK_JAVA_OPTIONS may name argfiles too. */
	env.jdk_java_options = "@env-args";
	mt_jvm_limits((char *const *)ARGV("java", "Main"), &env, &lim);
	ck_assert_uint_eq(lim.chunk_size, 32u << 20);
	env.jdk_java_options = NULL;
	/* -XX:Flags= (flags without -XX:) and -XX:VMOptionsFile= (options). */
	mt_jvm_limits((char *const *)ARGV("java", "-XX:Flags=.hotspotrc", "Main"), &env, &lim);
	ck_assert_uint_eq(lim.ceiling, 100u << 20);
	ck_assert_str_eq(lim.ceiling_source, "-XX:MaxDirectMemorySize");
	mt_jvm_limits((char *const *)ARGV("java", "-XX:VMOptionsFile=vmopts", "Main"), &env, &lim);
	ck_assert_uint_eq(lim.ceiling, 300u << 20);
	ck_assert_uint_eq(lim.chunk_size, 8u << 20);
	/* A file that is not there is skipped; without CWD nothing is read. */
	mt_jvm_limits((char *const *)ARGV("java", "@missing", "-Xmx1g", "Main"), &env, &lim);
	ck_assert_uint_eq(lim.ceiling, 1u << 30);
	env.cwd = NULL;
	mt_jvm_limits((char *const *)ARGV("java", "@args", "Main"), &env, &lim);
	ck_assert_uint_eq(lim.chunk_size, 16u << 20);
	env.cwd = dir;
	for (const char *n = "args\0env-args\0.hotspotrc\0vmopts\0"; *n; n += strlen(n) + 1) {
		char path[600];

		snprintf(path, sizeof(path), "%s/%s", dir, n);
		unlink(path);
	}
	rmdir(dir);
}
END_TEST

Suite *jvm_suite(void)
{
	Suite *s = suite_create("jvm");
	TCase *tc = tcase_create("rules");
	TCase *edge = tcase_create("hotspot_netty_edges");

	tcase_add_loop_test(tc, test_ceiling_case, 0, NCASES(ceiling_cases));
	tcase_add_loop_test(tc, test_chunk_case, 0, NCASES(chunk_cases));
	tcase_add_test(tc, test_chunk_sources_exact);
	tcase_add_test(tc, test_bare_java);
	tcase_add_test(tc, test_is_java);
	tcase_add_test(tc, test_jattach_parse);
	tcase_add_test(tc, test_netty_version_debian);
	tcase_add_test(tc, test_netty_version_modules);
	tcase_add_test(tc, test_netty_chunk_rules);
	tcase_add_test(tc, test_netty_jar_debian);
	tcase_add_test(tc, test_flag_files);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(edge, test_edge_case, 0, NCASES(edge_cases));
	suite_add_tcase(s, edge);
	return s;
}
