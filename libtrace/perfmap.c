/*
 * perfmap.c - ask a JVM whose structures cannot be read for its perf map.
 *
 * Frames in a HotSpot JVM's compiled code are named from its VMStructs
 * (hotspot.c).  Where those cannot be read (another JVM, a layout
 * hotspot.c does not know, MEMTRACE_NO_VMSTRUCTS), such frames lie in
 * anonymous memory, and the JVM's perf map, /tmp/perf-PID.map, names them
 * (symbols.c).  HotSpot writes that map on `jcmd PID Compiler.perfmap`
 * (JDK 17 on), which memtraced sends itself through the attach mechanism
 * (jattach.c), as jcmd does.
 *
 * When: a frame in anonymous memory that nothing named sets pm_want,
 * whether a query met it (symbols.c) or the tracer stored a new stack
 * holding one (stacks.c; a store, nothing more, on the tracer's side).
 * mt_session_perf_map() runs on the daemon's names thread, never the
 * tracer's: the first request takes a SIGQUIT, which reaches the JVM
 * through the tracer, and an answer may take seconds.  It asks when
 * pm_want is set, no JVM of the target can be read from its structures,
 * and the last request is PM_INTERVAL_NS old; each request writes the map
 * of all the code compiled so far, so frames compiled since are named
 * after the next one.  A query that meets an unnamed frame shows it as
 * unknown, and names it once the map has it.  A JVM that refuses
 * (-Xrs, -XX:+DisableAttachMechanism, a JDK without Compiler.perfmap) is
 * never asked again; one that is stopped or still starting is asked a
 * second later; one that fails otherwise (a timeout) PM_RETRY_NS later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hotspot.h"
#include "internal.h"

#define PM_INTERVAL_NS (10 * 1000000000LL)
#define PM_SOON_NS     (1 * 1000000000LL)
#define PM_RETRY_NS    (30 * 1000000000LL)

static const char *const perfmap_names[] = {"disabled", "idle",	   "written",
					    "failed",	"not_jvm", "refused"};

/* The name of state ST. */
const char *mt_perfmap_name(enum mt_perfmap st)
{
	return (unsigned)st <= MT_PERFMAP_REFUSED ? perfmap_names[st] : "?";
}

/* Note that a frame in anonymous memory went unnamed; any thread. */
void perf_map_want(struct mt_session *s)
{
	if (s->cfg.perf_map && !__atomic_load_n(&s->pm_want, __ATOMIC_RELAXED))
		__atomic_store_n(&s->pm_want, 1, __ATOMIC_RELAXED);
}

/* Set the state (ST >= 0) and the note status shows; lock taken. */
static void perf_map_note(struct mt_session *s, int st, const char *note)
{
	pthread_mutex_lock(&s->lock);
	if (st >= 0)
		s->pm_state = (enum mt_perfmap)st;
	snprintf(s->pm_note, sizeof(s->pm_note), "%s", note);
	pthread_mutex_unlock(&s->lock);
}

/* See the top comment. */
int mt_session_perf_map(struct mt_session *s, char *err, size_t errsize)
{
	int64_t now = mono_ns();
	enum mt_perfmap st;
	enum mt_state state;
	char *out = NULL;
	pid_t pid;
	int r;

	if (errsize)
		err[0] = '\0';
	if (!s->cfg.perf_map || now < s->pm_next_ns || !__atomic_load_n(&s->pm_want, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&s->lock);
	pid = s->pid;
	state = s->state;
	st = s->pm_state;
	pthread_mutex_unlock(&s->lock);
	if (!pid || state != MT_STATE_RUNNING || st == MT_PERFMAP_REFUSED)
		return 0;
	__atomic_store_n(&s->pm_want, 0, __ATOMIC_RELAXED);
	if (hs_readable(s, pid))
		return 0; /* its structures name its frames; what they miss, no map has */
	s->pm_next_ns = now + PM_INTERVAL_NS;
	if ((r = mt_jattach_check(pid, err, errsize)) == 0) {
		r = mt_jattach_run(pid, "jcmd Compiler.perfmap", &out, err, errsize);
		/* -EAGAIN: nothing reached the JVM (stopped, not ready, no room to connect). */
		if (r != -EAGAIN) {
			pthread_mutex_lock(&s->lock);
			s->pm_requests++;
			pthread_mutex_unlock(&s->lock);
		}
	}
	free(out);
	if (r < 0) {
		if (r == -EAGAIN) {
			s->pm_next_ns = now + PM_SOON_NS;
			__atomic_store_n(&s->pm_want, 1, __ATOMIC_RELAXED);
		} else if (r != -EPERM && r != -EPROTO && r != -ENOEXEC) {
			s->pm_next_ns = now + PM_RETRY_NS;
			__atomic_store_n(&s->pm_want, 1, __ATOMIC_RELAXED);
		}
		perf_map_note(s,
			      r == -ENOEXEC		    ? MT_PERFMAP_NOT_JVM
			      : r == -EPERM || r == -EPROTO ? MT_PERFMAP_REFUSED
							    : MT_PERFMAP_FAILED,
			      err);
		return r;
	}
	perf_map_note(s, MT_PERFMAP_WRITTEN, "");
	return 1;
}
