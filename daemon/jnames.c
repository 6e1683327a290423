/*
 * jnames.c - the names thread: learns the target's Java thread names, and
 * asks the JVM for its perf map when its frames need one.
 *
 * Asking a JVM for a thread dump or its perf map takes up to seconds
 * (jattach.c), so it has a thread of its own: the tracer must never wait
 * for it (the JVM's SIGQUIT and every stop of its threads go through the
 * tracer), nor must the control thread, which answers clients.  Twice a
 * second it calls mt_session_java_names() and mt_session_perf_map(), which
 * decide whether a request is due; one request at a time.  What goes
 * wrong is logged once per kind: a JVM that refuses, or a target that is
 * no JVM, keeps its threads' kernel names, or its JIT frames unnamed.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "log.h"

#define JNAMES_TICK_MS 500

struct jnames {
	struct mt_session *s;
	const struct options *o;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	int quit;
};

/* The names thread's loop. */
static void *jnames_main(void *arg)
{
	struct jnames *j = arg;
	int last = 0, last_pm = 0, quit = 0;

	/* --cpu pins the tracer (and so the thread that made us): not our job. */
	if (j->o->cfg.cpu >= 0)
		sched_setaffinity(0, sizeof(j->o->all_cpus), &j->o->all_cpus);
	while (!quit) {
		char err[512];
		struct timespec ts;
		int r = mt_session_java_names(j->s, err, sizeof(err));

		if (r == 1 && last != 1)
			log_debug("Java thread names read from the JVM's thread dump");
		else if (r < 0 && r != last)
			/* No JVM is the usual case; a JVM that refuses is worth saying. */
			(r == -ENOEXEC || r == -EAGAIN ? log_debug : log_info)(
				"Java thread names: %s; threads keep their kernel names", err);
		if (r)
			last = r;
		r = mt_session_perf_map(j->s, err, sizeof(err));
		if (r == 1 && last_pm != 1)
			log_debug("JIT frames: the JVM wrote its perf map");
		else if (r < 0 && r != last_pm && r != -ENOEXEC)
			(r == -EAGAIN ? log_debug : log_info)(
				"JIT frames: cannot ask the JVM for its perf map: %s", err);
		if (r)
			last_pm = r;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += JNAMES_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&j->lock);
		while (!j->quit && pthread_cond_timedwait(&j->cond, &j->lock, &ts) != ETIMEDOUT)
			;
		quit = j->quit;
		pthread_mutex_unlock(&j->lock);
	}
	return NULL;
}

/* Start the names thread, unless --no-java-names and --no-perf-map. */
int jnames_start(struct mt_session *s, const struct options *o, struct jnames **out)
{
	struct jnames *j;
	pthread_condattr_t ca;
	int err;

	*out = NULL;
	if (!o->cfg.java_names && !o->cfg.perf_map)
		return 0;
	if (!(j = calloc(1, sizeof(*j))))
		return -ENOMEM;
	j->s = s;
	j->o = o;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((err = pthread_create(&j->thread, NULL, jnames_main, j))) {
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->lock);
		free(j);
		return -err;
	}
	*out = j;
	return 0;
}

/* Stop the names thread and free it. */
void jnames_stop(struct jnames *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->quit = 1;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}
