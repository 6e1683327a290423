/*
 * jnames.c - the target's threads by their Java names.
 *
 * The kernel keeps 15 bytes of a thread's name (comm): a JVM's
 * "nioEventLoopGroup-3-1" and "nioEventLoopGroup-2-1" both read
 * "nioEventLoopGro".  When the target is a HotSpot JVM, a thread dump
 * through the attach mechanism (jattach.c) gives each thread's full name
 * beside its native id (nid=0x..., a tid in the JVM's pid namespace).
 *
 * mt_session_java_names() runs on a thread of the caller's (the daemon's
 * names thread), never the tracer's: asking the JVM takes a SIGQUIT the
 * first time, which reaches the JVM through the tracer as any signal does,
 * and an answer that may take seconds.  Only the names it learned are
 * stored, under the session lock; struct thread keeps them (jname), and
 * every query that shows a thread shows thread_name(): the Java name when
 * known, else comm.
 *
 * When: a dump is due when a live thread of the target has no Java name
 * and fewer than JN_TRIES dumps have missed it (a new thread; a thread the
 * JVM has not registered yet at the first dump; a native thread that is no
 * Java thread settles after JN_TRIES), at most one every JN_INTERVAL_NS.
 * Every dump renames every live thread, so a Thread.setName() shows at the
 * next one.  A target that is no JVM is looked at under the same rule, so
 * it costs one /proc/PID/maps read per new thread or two.  A JVM that
 * refuses (-Xrs, -XX:+DisableAttachMechanism, no attach socket after a
 * SIGQUIT, a refused command) is never asked again; one that is stopped
 * or still starting is asked a second later; one that fails otherwise (a
 * timeout) JN_RETRY_NS later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define JN_INTERVAL_NS (5 * 1000000000LL)
#define JN_SOON_NS     (1 * 1000000000LL)
#define JN_RETRY_NS    (30 * 1000000000LL)
#define JN_TRIES       2

static const char *const jnames_names[] = {"disabled", "waiting", "learned", "not_jvm",
					   "refused"};

/* The name of state ST. */
const char *mt_jnames_name(enum mt_jnames st)
{
	return (unsigned)st <= MT_JNAMES_REFUSED ? jnames_names[st] : "?";
}

/* TH's name as shown, Java's or comm, into BUF[MT_NAME_MAX]; lock held. */
void thread_name(const struct thread *th, char *buf)
{
	snprintf(buf, MT_NAME_MAX, "%s", th->jname ? th->jname : th->comm);
}

/* A copy of NAME of at most MT_NAME_MAX - 1 bytes, cut before a UTF-8 continuation byte. */
static char *jnames_dup(const char *name)
{
	size_t n = strlen(name);

	if (n > MT_NAME_MAX - 1) {
		n = MT_NAME_MAX - 1;
		while (n && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	return strndup(name, n);
}

/* The last number of NSpid in /proc/TID/status: TID in its own pid namespace. */
static pid_t jnames_nstid(pid_t tid)
{
	char v[128], *last;

	if (proc_status_field(tid, "NSpid:", v, sizeof(v)) < 0)
		return tid;
	last = strrchr(v, '\t');
	return (pid_t)atoi(last ? last + 1 : v);
}

static int jthread_cmp(const void *a, const void *b)
{
	const struct mt_jthread *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Set the note status shows and, when ST >= 0, the state; lock taken. */
static void jnames_note(struct mt_session *s, int st, const char *note)
{
	pthread_mutex_lock(&s->lock);
	if (st >= 0)
		s->jn_state = (enum mt_jnames)st;
	snprintf(s->jn_note, sizeof(s->jn_note), "%s", note);
	pthread_mutex_unlock(&s->lock);
}

/*
 * One live thread of the target, copied out of the list.  Records live as
 * long as the session, so TH stays valid without the lock.
 */
struct jn_cand {
	struct thread *th;
	pid_t tid;
	char *name; /* the new Java name, or NULL when the dump has none */
};

/*
 * The live threads of PID into *OUT (the caller frees): their count, 0
 * when none of them still wants a Java name, or -1.
 */
static ssize_t jnames_candidates(struct mt_session *s, pid_t pid, struct jn_cand **out)
{
	struct jn_cand *v;
	size_t n = 0, cap;
	int due = 0;

	pthread_mutex_lock(&s->lock);
	cap = s->threads_alive;
	for (const struct thread *th = s->threads; th && !due; th = th->next)
		due = th->alive && th->pid == pid && !th->jname && th->jname_misses < JN_TRIES;
	pthread_mutex_unlock(&s->lock);
	if (!due || !cap)
		return 0;
	/* Threads born meanwhile are left for the next time. */
	if (!(v = calloc(cap, sizeof(*v))))
		return -1;
	pthread_mutex_lock(&s->lock);
	for (struct thread *th = s->threads; th && n < cap; th = th->next)
		if (th->alive && th->pid == pid)
			v[n].th = th, v[n++].tid = th->tid;
	pthread_mutex_unlock(&s->lock);
	*out = v;
	return (ssize_t)n;
}

/* Store the names found for C[0..N) and count a miss for the others. */
static void jnames_store(struct mt_session *s, struct jn_cand *c, size_t n)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		struct thread *th = c[i].th;

		if (!th->alive)
			continue;
		if (!c[i].name) {
			th->jname_misses++;
			continue;
		}
		if (!th->jname || strcmp(th->jname, c[i].name)) {
			char *old = th->jname;

			th->jname = c[i].name;
			c[i].name = old; /* freed by the caller, after the lock */
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* Free C[0..N) and the names left in it. */
static void jnames_free(struct jn_cand *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].name);
	free(c);
}

/* See the top comment. */
int mt_session_java_names(struct mt_session *s, char *err, size_t errsize)
{
	int64_t now = mono_ns();
	struct jn_cand *c = NULL;
	struct mt_jthread *jt = NULL;
	size_t nj = 0, cap = 0;
	char *dump = NULL;
	enum mt_state state;
	enum mt_jnames jst;
	ssize_t n;
	pid_t pid;
	int r;

	if (errsize)
		err[0] = '\0';
	if (!s->cfg.java_names || now < s->jn_next_ns)
		return 0;
	pthread_mutex_lock(&s->lock);
	pid = s->pid;
	state = s->state;
	jst = s->jn_state;
	pthread_mutex_unlock(&s->lock);
	if (!pid || state != MT_STATE_RUNNING || jst == MT_JNAMES_REFUSED)
		return 0;
	if ((n = jnames_candidates(s, pid, &c)) <= 0)
		return n < 0 ? -ENOMEM : 0;
	s->jn_next_ns = now + JN_INTERVAL_NS;
	if ((r = mt_jattach_check(pid, err, errsize)) == 0)
		r = mt_jattach_run(pid, "threaddump", &dump, err, errsize);
	if (r < 0) {
		if (r == -ENOEXEC) /* checked again when threads appear */
			jnames_store(s, c, (size_t)n);
		else if (r == -EAGAIN)
			s->jn_next_ns = now + JN_SOON_NS;
		else if (r != -EPERM && r != -EPROTO)
			s->jn_next_ns = now + JN_RETRY_NS;
		jnames_note(s,
			    r == -ENOEXEC			? MT_JNAMES_NOT_JVM
			    : r == -EPERM || r == -EPROTO ? MT_JNAMES_REFUSED
			    : jst == MT_JNAMES_LEARNED	? -1
							: MT_JNAMES_WAITING,
			    err);
		jnames_free(c, (size_t)n);
		return r;
	}
	/* One header line per thread, each starting with a quote. */
	for (const char *p = dump; *p; p++)
		if (*p == '"' && (p == dump || p[-1] == '\n'))
			cap++;
	if (cap && !(jt = calloc(cap, sizeof(*jt)))) {
		free(dump);
		jnames_free(c, (size_t)n);
		return -ENOMEM;
	}
	nj = mt_jattach_parse(dump, jt, cap);
	free(dump);
	qsort(jt, nj, sizeof(*jt), jthread_cmp);
	/* nid is the tid in the JVM's pid namespace. */
	int same_ns = jnames_nstid(pid) == pid;

	for (ssize_t i = 0; i < n; i++) {
		struct mt_jthread key = {.tid = same_ns ? c[i].tid : jnames_nstid(c[i].tid)};
		const struct mt_jthread *f = bsearch(&key, jt, nj, sizeof(*jt), jthread_cmp);

		if (f && f->name[0])
			c[i].name = jnames_dup(f->name);
	}
	free(jt);
	jnames_store(s, c, (size_t)n);
	jnames_free(c, (size_t)n);
	pthread_mutex_lock(&s->lock);
	s->jn_state = MT_JNAMES_LEARNED;
	s->jn_dumps++;
	s->jn_note[0] = '\0';
	pthread_mutex_unlock(&s->lock);
	return 1;
}

/* The names of the threads of a batch of events, sorted by tid. */
struct mt_names {
	size_t n;
	pid_t *tid;
	char (*name)[MT_NAME_MAX];
};

static int tid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* See libtrace.h. */
struct mt_names *mt_session_names(struct mt_session *s, const struct mt_event *ev, size_t n)
{
	struct mt_names *t = calloc(1, sizeof(*t));
	unsigned char *seen;
	size_t k = 0;

	if (!t || !(t->tid = malloc((n ? n : 1) * sizeof(*t->tid)))) {
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		t->tid[i] = ev[i].tid;
	qsort(t->tid, n, sizeof(*t->tid), tid_cmp);
	for (size_t i = 0; i < n; i++)
		if (!k || t->tid[k - 1] != t->tid[i])
			t->tid[k++] = t->tid[i];
	t->n = k;
	if (!(t->name = calloc(k ? k : 1, sizeof(*t->name)))) {
		mt_names_free(t);
		return NULL;
	}
	if (!(seen = calloc(k ? k : 1, 1))) {
		mt_names_free(t);
		return NULL;
	}
	/* The list is newest first: a reused tid takes its newest record's name. */
	pthread_mutex_lock(&s->lock);
	for (const struct thread *th = s->threads; th && k; th = th->next) {
		pid_t *p = bsearch(&th->tid, t->tid, t->n, sizeof(*t->tid), tid_cmp);

		if (p && !seen[p - t->tid]) {
			seen[p - t->tid] = 1;
			thread_name(th, t->name[p - t->tid]);
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(seen);
	return t;
}

/* See libtrace.h. */
const char *mt_names_get(const struct mt_names *t, pid_t tid)
{
	const pid_t *p = t ? bsearch(&tid, t->tid, t->n, sizeof(*t->tid), tid_cmp) : NULL;

	return p && t->name[p - t->tid][0] ? t->name[p - t->tid] : NULL;
}

/* See libtrace.h. */
void mt_names_free(struct mt_names *t)
{
	if (!t)
		return;
	free(t->tid);
	free(t->name);
	free(t);
}
