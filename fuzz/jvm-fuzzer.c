/*
 * jvm-fuzzer.c - a JVM's command line and environment, as mt_jvm_limits()
 * reads them to work out the direct-memory ceiling and the Netty chunk
 * size.  The input's first line is "PHYS CGROUP CPUS" (decimal), the next
 * three JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and _JAVA_OPTIONS ("-" for
 * unset), each further line one word of java's argv.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *next, *env[3] = {NULL, NULL, NULL};
	char **argv = calloc(size + 2, sizeof(char *));
	unsigned long long phys = 0, cg = 0, cpus = 0;
	struct mt_jvm_env je = {0};
	struct mt_jvm_limits out;
	size_t n = 0, field = 0;

	assert(text && argv);
	memcpy(text, data, size);
	text[size] = '\0';
	argv[n++] = "java";
	for (line = text; line; line = next, field++) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (field == 0)
			sscanf(line, "%llu %llu %llu", &phys, &cg, &cpus);
		else if (field <= 3)
			env[field - 1] = strcmp(line, "-") ? line : NULL;
		else
			argv[n++] = line;
	}
	argv[n] = NULL;
	je.java_tool_options = env[0];
	je.jdk_java_options = env[1];
	je.java_options = env[2];
	je.phys_mem = phys;
	je.cgroup_limit = cg;
	je.cpus = (unsigned)cpus;
	mt_jvm_limits(argv, &je, &out);
	assert(memchr(out.ceiling_source, '\0', sizeof(out.ceiling_source)));
	assert(memchr(out.chunk_source, '\0', sizeof(out.chunk_source)));
	assert(mt_jvm_is_java(argv[0]));
	free(argv);
	free(text);
	return 0;
}
