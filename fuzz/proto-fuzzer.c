/*
 * proto-fuzzer.c - the control protocol: request lines as a client sends
 * them, parsed by mt_proto_parse() and, when accepted, answered by their
 * command's handler against a session with a table, threads and events in
 * it (never launched, as tests/unit/test_proto.c makes one).  Every answer
 * must be a JSON object that serializes.
 */
#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mt_session *s;

/* A thread record as the tracer makes one, linked into the session's list. */
static struct thread *add_thread(pid_t tid, const char *comm, int alive)
{
	struct thread *th = calloc(1, sizeof(*th));

	assert(th);
	th->pid = 1000;
	th->tid = tid;
	snprintf(th->comm, sizeof(th->comm), "%s", comm);
	th->alive = alive;
	th->next = s->threads;
	s->threads = th;
	s->threads_seen++;
	s->threads_alive += (uint64_t)alive;
	return th;
}

/* Enter a mapping owned by TH and record the event that made it. */
static void add_mapping(struct thread *th, uint64_t start, uint64_t len, int prot, unsigned kind)
{
	struct mt_event ev = {
		.time_ns = mt_now_ns(),
		.pid = th->pid,
		.tid = th->tid,
		.sys = MT_SYS_MMAP,
		.done = 1,
		.args = {0, len, (uint64_t)prot, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0},
		.ret = (int64_t)start,
	};
	struct maps_entry e = {
		.start = start,
		.len = len,
		.prot = prot,
		.flags = MAP_PRIVATE | MAP_ANONYMOUS,
		.kind = kind,
		.tid = th->tid,
		.time_ns = ev.time_ns,
		.owner = &th->own,
	};

	ring_push(&s->ring, &ev);
	e.id = s->ring.head;
	assert(maps_map(&s->maps, &e) == 0);
	th->mapped_count++;
	th->mapped_bytes += len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mt_config cfg;
	struct thread *a, *b;
	struct mt_event ev = {.time_ns = 1, .pid = 1000, .tid = 1001, .sys = MT_SYS_MUNMAP,
			      .done = 1, .ret = -22};

	mt_config_default(&cfg);
	cfg.ceiling = 256ull << 20;
	cfg.ring_events = 64; /* small, so that some events are dropped */
	cfg.allow_peek = 1;
	if (mt_session_new(&cfg, &s) < 0)
		abort();
	pthread_mutex_lock(&s->lock);
	a = add_thread(1000, "main", 1);
	b = add_thread(1001, "worker \"1\"\n", 0);
	for (unsigned i = 0; i < 5; i++)
		add_mapping(a, 0x7f0000000000ull + i * (32ull << 20), 16ull << 20, PROT_READ | PROT_WRITE,
			    MT_MAP_ANON);
	add_mapping(b, 0x7e0000000000ull, 1ull << 30, PROT_NONE, MT_MAP_ANON | MT_MAP_NOCHUNK);
	add_mapping(b, 0x7d0000000000ull, 4096, PROT_READ, 0);
	for (unsigned i = 0; i < 100; i++)
		ring_push(&s->ring, &ev);
	alert_check(s);
	pthread_mutex_unlock(&s->lock);
	mt_session_sample(s);
	while (mt_session_sites_step(s)) /* the whole pass: suspects have sites to show */
		;
	return 0;
}

/* Each line of the input is one request. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		const struct mt_cmd *cmd = NULL;
		json_t *req = NULL, *err = NULL, *answer = NULL;
		char *text;

		if (mt_proto_parse(p, len, &cmd, &req, &err) == 0) {
			assert(cmd && req && !err);
			if (mt_proto_handler(cmd))
				answer = mt_proto_handler(cmd)(s, req);
			json_decref(req);
		} else {
			assert(err);
			answer = err;
		}
		if (answer) {
			assert(json_is_object(answer));
			text = json_dumps(answer, JSON_COMPACT);
			assert(text);
			free(text);
			json_decref(answer);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}
