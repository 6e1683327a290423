/*
 * jvm.c - the direct-memory ceiling and Netty's chunk size, worked out
 * from a JVM's flags the way HotSpot and Netty 4.1 work them out.
 *
 * Flags come, in the order HotSpot applies them (the last one wins):
 * JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS (read by the java launcher), the
 * command line up to the main class or -jar FILE, then _JAVA_OPTIONS.
 * @argfiles and -XX:Flags= files are not read (a documented limit).
 *
 * Ceiling, as Netty's PlatformDependent computes DIRECT_MEMORY_LIMIT:
 * -Dio.netty.maxDirectMemory > 0 is the limit; otherwise (0: Netty leaves
 * counting to the JDK; negative or absent: "use the JVM's") it is the JVM's
 * limit: -XX:MaxDirectMemorySize when > 0, else the maximum heap: -Xmx or
 * -XX:MaxHeapSize, else MaxRAMPercentage (default 25) of MaxRAM, of the
 * cgroup memory limit (UseContainerSupport, on by default) or of physical
 * memory.
 *
 * Chunk size: pageSize << maxOrder from -Dio.netty.allocator.pageSize
 * (default 8192, a power of two >= 4096) and -Dio.netty.allocator.maxOrder
 * (default 11, at most 14), as Netty 4.1.48's PooledByteBufAllocator;
 * invalid values fall back to the defaults as Netty does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtrace.h"

/* Options whose value is the next word. */
static const char *const takes_value[] = {
	"-cp",		 "-classpath",	  "--class-path",   "-p",	      "--module-path",
	"--upgrade-module-path", "--add-modules", "--limit-modules", "--add-exports", "--add-opens",
	"--add-reads",	 "--patch-module", "--source",	     NULL,
};

struct flags {
	int64_t netty_max;   /* INT64_MIN: not given */
	uint64_t max_direct; /* 0: not given */
	uint64_t max_heap;
	uint64_t max_ram;
	double ram_percent; /* < 0: not given */
	double min_ram_percent;
	uint64_t ram_fraction;
	int container_support;
	int64_t page_size, max_order; /* -1: not given */
	int gc;			      /* 0 default, 'S' serial, 'P' parallel, 'G' G1 or others */
	uint64_t new_ratio, survivor_ratio, max_new;
};

/* Parse a HotSpot size: digits with an optional k/m/g/t (either case). */
static int jvm_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
			return -ERANGE;
	switch (*p) {
	case 't': case 'T': mult <<= 10; /* fall through */
	case 'g': case 'G': mult <<= 10; /* fall through */
	case 'm': case 'M': mult <<= 10; /* fall through */
	case 'k': case 'K': mult <<= 10; p++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*p || __builtin_mul_overflow(v, mult, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parse a Java long as Netty's SystemPropertyUtil does: trimmed, Long.parseLong (a sign allowed). */
static int java_long(const char *s, int64_t *out)
{
	char *end;
	long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!((*s >= '0' && *s <= '9') || ((*s == '-' || *s == '+') && s[1] >= '0' && s[1] <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Apply one JVM option to F. */
static void jvm_flag(struct flags *f, const char *a)
{
	uint64_t u;
	int64_t l;

	if (!strncmp(a, "-Xmx", 4) && jvm_size(a + 4, &u) == 0)
		f->max_heap = u;
	else if (!strncmp(a, "-XX:MaxHeapSize=", 16) && jvm_size(a + 16, &u) == 0)
		f->max_heap = u;
	else if (!strncmp(a, "-XX:MaxDirectMemorySize=", 24) && jvm_size(a + 24, &u) == 0)
		f->max_direct = u;
	else if (!strncmp(a, "-XX:MaxRAM=", 11) && jvm_size(a + 11, &u) == 0)
		f->max_ram = u;
	else if (!strncmp(a, "-XX:MaxRAMPercentage=", 21))
		f->ram_percent = strtod(a + 21, NULL);
	else if (!strncmp(a, "-XX:MinRAMPercentage=", 21))
		f->min_ram_percent = strtod(a + 21, NULL);
	else if (!strncmp(a, "-XX:MaxRAMFraction=", 19) && jvm_size(a + 19, &u) == 0 && u)
		f->ram_fraction = u;
	else if (!strcmp(a, "-XX:+UseSerialGC"))
		f->gc = 'S';
	else if (!strcmp(a, "-XX:+UseParallelGC"))
		f->gc = 'P';
	else if (!strcmp(a, "-XX:+UseG1GC") || !strcmp(a, "-XX:+UseZGC") ||
		 !strcmp(a, "-XX:+UseShenandoahGC") || !strcmp(a, "-XX:+UseEpsilonGC"))
		f->gc = 'G';
	else if (!strncmp(a, "-XX:NewRatio=", 13) && jvm_size(a + 13, &u) == 0)
		f->new_ratio = u;
	else if (!strncmp(a, "-XX:SurvivorRatio=", 18) && jvm_size(a + 18, &u) == 0)
		f->survivor_ratio = u;
	else if (!strncmp(a, "-XX:MaxNewSize=", 15) && jvm_size(a + 15, &u) == 0)
		f->max_new = u;
	else if (!strncmp(a, "-Xmn", 4) && jvm_size(a + 4, &u) == 0)
		f->max_new = u;
	else if (!strcmp(a, "-XX:-UseContainerSupport"))
		f->container_support = 0;
	else if (!strcmp(a, "-XX:+UseContainerSupport"))
		f->container_support = 1;
	else if (!strncmp(a, "-Dio.netty.maxDirectMemory=", 27) && java_long(a + 27, &l) == 0)
		f->netty_max = l;
	else if (!strncmp(a, "-Dio.netty.allocator.pageSize=", 30) && java_long(a + 30, &l) == 0)
		f->page_size = l;
	else if (!strncmp(a, "-Dio.netty.allocator.maxOrder=", 30) && java_long(a + 30, &l) == 0)
		f->max_order = l;
}

/* Apply the whitespace-separated options in the environment variable V. */
static void jvm_env_flags(struct flags *f, const char *v)
{
	char word[4096];

	while (v && *v) {
		size_t n;

		v += strspn(v, " \t\n");
		n = strcspn(v, " \t\n");
		if (n && n < sizeof(word)) {
			memcpy(word, v, n);
			word[n] = '\0';
			jvm_flag(f, word);
		}
		v += n;
	}
}

/*
 * What Runtime.maxMemory() reports for a heap of HEAP bytes, which is the
 * JDK's limit without MaxDirectMemorySize.  HotSpot first aligns the heap
 * up to 2 MiB.  G1 (the default on a machine of 2 or more CPUs and at least
 * 1792 MiB) reports the whole heap; the serial collector (the default on
 * smaller machines) and the parallel one leave out one survivor space.
 */
static uint64_t heap_max_memory(const struct flags *f, const struct mt_jvm_env *env, uint64_t heap,
				char *source, size_t size)
{
	const uint64_t align = 2u << 20;
	int gc = f->gc;
	uint64_t young, surv, ratio = f->new_ratio ? f->new_ratio : 2;

	heap = (heap + align - 1) & ~(align - 1);
	if (!gc)
		gc = (env->cpus && env->cpus < 2) || env->phys_mem < (1792ull << 20) ? 'S' : 'G';
	if (gc == 'G')
		return heap;
	young = f->max_new && f->max_new < heap ? f->max_new : heap / (ratio + 1);
	if (gc == 'S') {
		young &= ~(uint64_t)0xffff;
		surv = young / ((f->survivor_ratio ? f->survivor_ratio : 8) + 2) & ~(uint64_t)0xffff;
	} else {
		young &= ~(uint64_t)0x7ffff;
		surv = young / (f->survivor_ratio ? f->survivor_ratio + 2 : 8) & ~(uint64_t)0x7ffff;
	}
	if (strlen(source) + 32 < size)
		strcat(source, gc == 'S' ? " less a survivor space (serial)"
					 : " less a survivor space (parallel)");
	return heap - surv;
}

/* Whether ARGV0 names a java launcher. */
int mt_jvm_is_java(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	return !strcmp(base, "java");
}

/* Work out the ceiling and chunk size; see the top comment. */
void mt_jvm_limits(char *const argv[], const struct mt_jvm_env *env, struct mt_jvm_limits *out)
{
	struct flags f = {.netty_max = INT64_MIN, .ram_percent = -1, .min_ram_percent = 50,
			  .container_support = 1, .page_size = -1, .max_order = -1};
	uint64_t jvm_limit, ram;
	char jvm_source[112];

	memset(out, 0, sizeof(*out));
	jvm_env_flags(&f, env->java_tool_options);
	jvm_env_flags(&f, env->jdk_java_options);
	for (int i = 1; argv[i]; i++) {
		const char *a = argv[i];
		int skip = 0;

		if (a[0] != '-' || !strcmp(a, "-jar") || !strcmp(a, "-m") || !strcmp(a, "--module"))
			break; /* the main class, jar or module: program arguments follow */
		for (const char *const *t = takes_value; *t; t++)
			if (!strcmp(a, *t))
				skip = 1;
		jvm_flag(&f, a);
		i += skip && argv[i + 1];
	}
	jvm_env_flags(&f, env->java_options);

	/* The JVM's own limit (VM.maxDirectMemory()). */
	if (f.max_direct) {
		jvm_limit = f.max_direct;
		snprintf(jvm_source, sizeof(jvm_source), "-XX:MaxDirectMemorySize");
	} else if (f.max_heap) {
		jvm_limit = f.max_heap;
		snprintf(jvm_source, sizeof(jvm_source), "maximum heap (-Xmx)");
	} else {
		/* HotSpot's set_heap_size(); MaxRAMFraction counts only without MaxRAMPercentage. */
		const uint64_t flag_default = (96ull << 20) * 13 / 10 & ~7ull;
		const char *base = "physical memory", *how;
		uint64_t min;

		ram = env->phys_mem;
		if (f.container_support && env->cgroup_limit && env->cgroup_limit < ram) {
			ram = env->cgroup_limit;
			base = "the cgroup memory limit";
		}
		if (f.max_ram) {
			ram = f.max_ram;
			base = "-XX:MaxRAM";
		}
		if (f.ram_percent < 0 && f.ram_fraction) {
			jvm_limit = ram / f.ram_fraction;
			how = "MaxRAMFraction";
		} else {
			jvm_limit = (uint64_t)((double)ram * (f.ram_percent < 0 ? 25 : f.ram_percent) / 100);
			how = f.ram_percent < 0 ? "25%" : "MaxRAMPercentage";
		}
		/*
		 * With little memory (MinRAMPercentage of it below the MaxHeapSize
		 * flag's default, 96M scaled by 1.3 on 64-bit) the heap gets
		 * MinRAMPercentage of it; otherwise at least that default.
		 */
		min = (uint64_t)((double)ram * f.min_ram_percent / 100.0);
		if (min < flag_default) {
			jvm_limit = min;
			how = "MinRAMPercentage";
		} else if (jvm_limit < flag_default) {
			jvm_limit = flag_default;
			how = "the MaxHeapSize default";
		}
		snprintf(jvm_source, sizeof(jvm_source), "maximum heap (%s of %s)", how, base);
	}
	if (!f.max_direct)
		jvm_limit = heap_max_memory(&f, env, jvm_limit, jvm_source, sizeof(jvm_source));
	if (f.netty_max > 0) {
		out->ceiling = (uint64_t)f.netty_max;
		snprintf(out->ceiling_source, sizeof(out->ceiling_source), "-Dio.netty.maxDirectMemory");
	} else {
		out->ceiling = jvm_limit;
		snprintf(out->ceiling_source, sizeof(out->ceiling_source), "%.97s%s", jvm_source,
			 f.netty_max == 0 ? " (io.netty.maxDirectMemory=0)" : "");
	}

	/* Netty's pool chunk. */
	{
		int64_t page = 8192, order = 11;
		int given = 0;

		/* Each property falls back on its own, as PooledByteBufAllocator's do. */
		if (f.page_size >= 4096 && !(f.page_size & (f.page_size - 1)) && f.page_size <= (1 << 30))
			page = f.page_size, given = 1;
		if (f.max_order >= 0 && f.max_order <= 14 && ((uint64_t)page << f.max_order) <= (1ull << 30))
			order = f.max_order, given = 1;
		out->chunk_size = (uint64_t)page << order;
		snprintf(out->chunk_source, sizeof(out->chunk_source), "%s",
			 given ? "-Dio.netty.allocator.pageSize << maxOrder"
			       : "Netty's default (8192 << 11)");
	}
}
