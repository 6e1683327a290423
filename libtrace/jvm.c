/*
 * jvm.c - the direct-memory ceiling and Netty's chunk size, worked out
 * from a JVM's flags the way HotSpot and Netty 4.1 work them out.
 *
 * Flags come, in the order HotSpot applies them (the last one wins):
 * JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS (read by the java launcher), the
 * command line up to the main class or -jar FILE, then _JAVA_OPTIONS.
 * The launcher's @argfiles (on the command line and in JDK_JAVA_OPTIONS)
 * are expanded where they stand; -XX:VMOptionsFile= files hold options as
 * a command line does, -XX:Flags= files HotSpot flags without -XX: (the
 * .hotspotrc form, "+Flag" or "Flag=value").  A file is read through the
 * target's root and working directory (mt_jvm_env's root and cwd).
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
 * (default 11 before Netty 4.1.75, 9 from then on, at most 14), as
 * PooledByteBufAllocator; invalid values fall back to the defaults as Netty
 * does.  Netty 4.2 makes the adaptive allocator the default, whose chunks
 * vary in size; -Dio.netty.allocator.type chooses (pooled, unpooled,
 * adaptive).  The version comes from META-INF/io.netty.versions.properties
 * in a jar the JVM has open (mt_netty_jar(), read by direct.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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
	char allocator_type[16];
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

/*
 * Parse a HotSpot percentage flag's value: a number from 0 to 100.  The JVM
 * refuses to start with any other (a negative one, NaN), so it is ignored.
 */
static int jvm_percent(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0 && v <= 100))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Apply one JVM option to F. */
static void jvm_flag(struct flags *f, const char *a)
{
	uint64_t u;
	int64_t l;
	double d;

	if (!strncmp(a, "-Xmx", 4) && jvm_size(a + 4, &u) == 0)
		f->max_heap = u;
	else if (!strncmp(a, "-XX:MaxHeapSize=", 16) && jvm_size(a + 16, &u) == 0)
		f->max_heap = u;
	else if (!strncmp(a, "-XX:MaxDirectMemorySize=", 24) && jvm_size(a + 24, &u) == 0)
		f->max_direct = u;
	else if (!strncmp(a, "-XX:MaxRAM=", 11) && jvm_size(a + 11, &u) == 0)
		f->max_ram = u;
	else if (!strncmp(a, "-XX:MaxRAMPercentage=", 21) && jvm_percent(a + 21, &d) == 0)
		f->ram_percent = d;
	else if (!strncmp(a, "-XX:MinRAMPercentage=", 21) && jvm_percent(a + 21, &d) == 0)
		f->min_ram_percent = d;
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
	else if (!strncmp(a, "-Dio.netty.allocator.type=", 26))
		snprintf(f->allocator_type, sizeof(f->allocator_type), "%s", a + 26);
}

#define FILE_MAX (64 * 1024)

/* Read the file NAME as the target sees it into a new string; NULL when it cannot. */
static char *jvm_file(const struct mt_jvm_env *env, const char *name)
{
	char path[4200];
	char *buf;
	ssize_t n;
	int fd;

	if (!env->cwd || !env->root || !*name)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", name[0] == '/' ? env->root : env->cwd, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return NULL;
	buf = malloc(FILE_MAX + 1);
	n = buf ? read(fd, buf, FILE_MAX) : -1;
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * Split the text of an @argfile into words as the java launcher does:
 * whitespace separates, '#' starts a comment to the end of the line, single
 * or double quotes group (a backslash inside them escapes), and FN gets
 * each word until it returns non-zero, which is returned.
 */
static int argfile_words(char *text, int (*fn)(const char *word, void *arg), void *arg)
{
	char *p = text, *w, *o;
	int ret;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f')
			p++;
		if (!*p)
			return 0;
		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		w = o = p;
		while (*p && !strchr(" \t\n\r\f", *p)) {
			if (*p == '"' || *p == '\'') {
				char q = *p++;

				while (*p && *p != q) {
					if (*p == '\\' && p[1])
						p++;
					*o++ = *p++;
				}
				if (*p)
					p++;
			} else {
				*o++ = *p++;
			}
		}
		if (*p)
			p++;
		*o = '\0';
		if ((ret = fn(w, arg)))
			return ret;
	}
}

struct args_ctx {
	struct flags *f;
	const struct mt_jvm_env *env;
	int skip;	/* the next word is an option's value */
	int in_file;	/* inside an @argfile: no further expansion */
};

static void jvm_flag_files(struct args_ctx *c, const char *a);

/* One launcher word: 1 when it is the main class (the options end there). */
static int launcher_word(const char *a, void *arg)
{
	struct args_ctx *c = arg;
	char *text;

	if (c->skip) {
		c->skip = 0;
		return 0;
	}
	if (a[0] == '@' && a[1] != '@' && !c->in_file) {
		if ((text = jvm_file(c->env, a + 1))) {
			int ret;

			c->in_file = 1;
			ret = argfile_words(text, launcher_word, c);
			c->in_file = 0;
			free(text);
			return ret;
		}
		return 0;
	}
	if (a[0] != '-' || !strcmp(a, "-jar") || !strcmp(a, "-m") || !strcmp(a, "--module"))
		return 1; /* the main class, jar or module: program arguments follow */
	for (const char *const *t = takes_value; *t; t++)
		if (!strcmp(a, *t))
			c->skip = 1;
	jvm_flag(c->f, a);
	jvm_flag_files(c, a);
	return 0;
}

/* One word of a -XX:VMOptionsFile: an option as on the command line. */
static int options_file_word(const char *a, void *arg)
{
	struct args_ctx *c = arg;

	jvm_flag(c->f, a);
	return 0;
}

/* Apply the -XX:Flags= or -XX:VMOptionsFile= file A names. */
static void jvm_flag_files(struct args_ctx *c, const char *a)
{
	char *text;

	if (!strncmp(a, "-XX:VMOptionsFile=", 18) && (text = jvm_file(c->env, a + 18))) {
		argfile_words(text, options_file_word, c);
		free(text);
	} else if (!strncmp(a, "-XX:Flags=", 10) && (text = jvm_file(c->env, a + 10))) {
		/* One flag a line, without "-XX:"; '#' starts a comment. */
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			char word[512];

			line += strspn(line, " \t");
			line[strcspn(line, "\r#")] = '\0';
			while (*line && strchr(" \t", line[strlen(line) - 1]))
				line[strlen(line) - 1] = '\0';
			if (*line && strlen(line) < sizeof(word) - 5) {
				snprintf(word, sizeof(word), "-XX:%s", line);
				jvm_flag(c->f, word);
			}
		}
		free(text);
	}
}

/*
 * Apply the whitespace-separated options in the environment variable V
 * (with the launcher's rules, @argfiles expanded, when C is given).
 */
static void jvm_env_flags(struct flags *f, const char *v, struct args_ctx *c)
{
	char word[4096];

	while (v && *v) {
		size_t n;

		v += strspn(v, " \t\n");
		n = strcspn(v, " \t\n");
		if (n && n < sizeof(word)) {
			memcpy(word, v, n);
			word[n] = '\0';
			if (c)
				launcher_word(word, c);
			else
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

static uint64_t chunk_rule(const struct mt_jvm_limits *lim, int64_t order, int *given);

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
	struct args_ctx c = {&f, env, 0, 0};
	uint64_t jvm_limit, ram;
	char jvm_source[112];

	memset(out, 0, sizeof(*out));
	jvm_env_flags(&f, env->java_tool_options, NULL);
	jvm_env_flags(&f, env->jdk_java_options, &c);
	c.skip = 0;
	for (int i = 1; argv[i]; i++)
		if (launcher_word(argv[i], &c))
			break;
	jvm_env_flags(&f, env->java_options, NULL);

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

	/* Netty's pool chunk, as far as the flags say. */
	out->page_size = f.page_size;
	out->max_order = f.max_order;
	memcpy(out->allocator_type, f.allocator_type, sizeof(out->allocator_type));
	out->chunk_size = chunk_rule(out, 11, &out->chunk_given);
	snprintf(out->chunk_source, sizeof(out->chunk_source), "%s",
		 out->chunk_given ? "-Dio.netty.allocator.pageSize << maxOrder"
				  : "Netty's default (8192 << 11)");
}

/*
 * pageSize << maxOrder for LIM's flags, with ORDER the version's default
 * maxOrder; *GIVEN says whether a flag counted.  Each property falls back
 * on its own, as PooledByteBufAllocator's do.
 */
static uint64_t chunk_rule(const struct mt_jvm_limits *lim, int64_t order, int *given)
{
	int64_t page = 8192;

	*given = 0;
	if (lim->page_size >= 4096 && !(lim->page_size & (lim->page_size - 1)) &&
	    lim->page_size <= (1 << 30))
		page = lim->page_size, *given = 1;
	if (lim->max_order >= 0 && lim->max_order <= 14 &&
	    ((uint64_t)page << lim->max_order) <= (1ull << 30))
		order = lim->max_order, *given = 1;
	return (uint64_t)page << order;
}

/* Whether version V is at least A.B.C. */
static int version_ge(const int v[3], int a, int b, int c)
{
	return v[0] != a ? v[0] > a : v[1] != b ? v[1] > b : v[2] >= c;
}

/* Netty's chunk size for LIM's flags and version V; see libtrace.h. */
uint64_t mt_netty_chunk(const struct mt_jvm_limits *lim, const struct mt_netty *v, char *why,
			size_t size)
{
	int known = v && v->version[0], given;
	const char *type = lim->allocator_type;
	char ver[48] = "Netty";
	uint64_t chunk;

	if (known)
		snprintf(ver, sizeof(ver), "Netty %d.%d.%d", v->version[0], v->version[1],
			 v->version[2]);
	/* 4.1 falls back to pooled on an unknown type; 4.2 to adaptive. */
	if (strcmp(type, "pooled") && strcmp(type, "unpooled") && strcmp(type, "adaptive"))
		type = known && version_ge(v->version, 4, 2, 0) ? "adaptive" : "pooled";
	if (!strcmp(type, "unpooled")) {
		snprintf(why, size, "io.netty.allocator.type=unpooled: no pool chunks");
		return 0;
	}
	if (!strcmp(type, "adaptive")) {
		snprintf(why, size, "%s%s: adaptive allocator, chunk sizes vary", ver,
			 !strcmp(lim->allocator_type, "adaptive") ? " io.netty.allocator.type=adaptive"
								   : "");
		return 0;
	}
	chunk = chunk_rule(lim, known && version_ge(v->version, 4, 1, 75) ? 9 : 11, &given);
	if (given)
		snprintf(why, size, "-Dio.netty.allocator.pageSize << maxOrder");
	else if (known)
		snprintf(why, size, "%s's default (8192 << %d)", ver,
			 version_ge(v->version, 4, 1, 75) ? 9 : 11);
	else
		snprintf(why, size, "Netty's default (8192 << 11)");
	return chunk;
}

/* Parse "4.1.48.Final" into V; 0 or -EINVAL. */
static int parse_version(const char *s, int v[3])
{
	char *end;

	for (int i = 0; i < 3; i++) {
		long n = strtol(s, &end, 10);

		if (end == s || n < 0 || n > 100000)
			return -EINVAL;
		v[i] = (int)n;
		if (i < 2 && *end != '.')
			return -EINVAL;
		s = end + 1;
	}
	return 0;
}

/* Read the Netty version from io.netty.versions.properties text. */
int mt_netty_version(const char *text, size_t len, struct mt_netty *out)
{
	int best = 0; /* 3 netty-buffer, 2 netty-all, 1 another module */
	const char *p = text, *end = text + len;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256], *eq, *dot;
		int v[3], rank;

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			line[strcspn(line, "\r")] = '\0';
			eq = strchr(line, '=');
			if (line[0] != '#' && eq && eq - line > 8 && !strncmp(eq - 8, ".version", 8)) {
				*eq = '\0';
				dot = eq - 8;
				*dot = '\0';
				rank = !strcmp(line, "netty-buffer") ? 3 : !strcmp(line, "netty-all") ? 2 : 1;
				if (rank > best && parse_version(eq + 1, v) == 0) {
					best = rank;
					memcpy(out->version, v, sizeof(v));
					snprintf(out->artifact, sizeof(out->artifact), "%.39s", line);
				}
			}
		}
		p += n + 1;
	}
	return best ? 0 : -ENOENT;
}

#define ZIP_NAME "META-INF/io.netty.versions.properties"

/* Little-endian fields of zip headers. */
static unsigned le16(const unsigned char *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Read the Netty version from the jar open at FD: find ZIP_NAME in the
 * central directory (located by the end record within the last 64 KiB),
 * then read it, stored or deflated.  Zip64 jars are not read.
 */
int mt_netty_jar(int fd, struct mt_netty *out)
{
	unsigned char tail[65536 + 22], lh[30], *cd = NULL;
	off_t size = lseek(fd, 0, SEEK_END), at;
	ssize_t n;
	uint32_t cd_size, cd_off;
	int err = -ENOENT;

	if (size < 22)
		return -EINVAL;
	at = size > (off_t)sizeof(tail) ? size - (off_t)sizeof(tail) : 0;
	if ((n = pread(fd, tail, (size_t)(size - at), at)) < 22)
		return -EIO;
	for (ssize_t i = n - 22; i >= 0; i--) {
		if (le32(tail + i) != 0x06054b50)
			continue;
		cd_size = le32(tail + i + 12);
		cd_off = le32(tail + i + 16);
		if (cd_size > 64u << 20 || (off_t)cd_off + cd_size > size || !(cd = malloc(cd_size)))
			return -EINVAL;
		if (pread(fd, cd, cd_size, cd_off) != (ssize_t)cd_size)
			goto out;
		for (uint32_t p = 0; p + 46 <= cd_size && le32(cd + p) == 0x02014b50;) {
			unsigned method = le16(cd + p + 10), nlen = le16(cd + p + 28);
			uint32_t csize = le32(cd + p + 20), usize = le32(cd + p + 24);
			uint32_t loff = le32(cd + p + 42);

			if (p + 46 + nlen > cd_size)
				break;
			if (nlen == strlen(ZIP_NAME) && !memcmp(cd + p + 46, ZIP_NAME, nlen) &&
			    csize < (1u << 20) && usize < (1u << 20) &&
			    pread(fd, lh, sizeof(lh), loff) == sizeof(lh) && le32(lh) == 0x04034b50) {
				off_t data = (off_t)loff + 30 + le16(lh + 26) + le16(lh + 28);
				unsigned char *z = malloc(csize + 1), *text = malloc(usize + 1);
				z_stream zs = {0};

				err = -EINVAL;
				if (z && text && pread(fd, z, csize, data) == (ssize_t)csize) {
					if (method == 0 && csize == usize) {
						memcpy(text, z, usize);
						err = mt_netty_version((char *)text, usize, out);
					} else if (method == 8 && inflateInit2(&zs, -15) == Z_OK) {
						zs.next_in = z;
						zs.avail_in = csize;
						zs.next_out = text;
						zs.avail_out = usize;
						if (inflate(&zs, Z_FINISH) == Z_STREAM_END)
							err = mt_netty_version((char *)text,
									       usize - zs.avail_out, out);
						inflateEnd(&zs);
					}
				}
				free(z);
				free(text);
				goto out;
			}
			p += 46 + nlen + le16(cd + p + 30) + le16(cd + p + 32);
		}
		goto out;
	}
	return -EINVAL;
out:
	free(cd);
	return err;
}
