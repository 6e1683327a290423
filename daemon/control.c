/*
 * control.c - the control socket: newline-delimited JSON over a UNIX
 * stream socket, served by one thread with a ppoll() loop.
 *
 * Protocol: each request is one JSON object on one line, at most 64 KiB,
 * {"cmd":"NAME", args...}; each gets one answer line, in order,
 * {"ok":true,...} or {"ok":false,"error":{"code":...,"message":...}}.
 * "events" with "follow":true keeps streaming {"event":{...}} lines after
 * its answer until the client closes.  See memtrace-protocol(7).
 *
 * Nothing here can hold up the tracer: queries copy under the session's
 * short lock, the suspects' pass reads the table a slice per turn of the
 * loop (queries are served between slices), sockets are non-blocking, and
 * every resource a client can make us hold is bounded (clients, input
 * line, pending output).  A client that will not read its answers is
 * dropped; a follower that falls behind loses events and is told how many.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define MAX_CLIENTS  512
#define IDLE_NS      (5 * 1000000000LL) /* a full table drops a client this idle */
#define MAX_LINE     (64 * 1024)
#define MAX_OUT      (16 * 1024 * 1024) /* pending answer bytes per client */
#define FOLLOW_BATCH 4096
#define PER_ROUND    8 /* requests answered per client per poll round */
#define FOLLOW_HIGH  (4 * 1024 * 1024) /* a follower this far behind waits */

struct client {
	int fd;
	uid_t uid;
	char in[MAX_LINE + 1];
	size_t inlen;
	int discarding; /* skipping the rest of an oversized line */
	char *out;
	size_t outlen, outoff, outcap;
	int follow;
	uint64_t follow_seq;
	pid_t follow_tid;
	int follow_sys;
	int follow_behind; /* stopped queueing until the client reads */
	int watch;   /* streaming alerts */
	int eof;     /* the client will send no more */
	int backlog; /* complete lines not answered yet */
	int closing; /* close once the output is flushed */
	int64_t active_ns; /* when it connected or last sent something */
};

struct control {
	struct mt_session *s;
	const struct options *o;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, signal_fd, wake_fd;
	dev_t sock_dev; /* our socket file, so we never remove another daemon's */
	ino_t sock_ino;
	int sock_lost;	 /* our socket file is gone or replaced; said once */
	int metrics_err; /* errno of the last --metrics-file write that failed, said once */
	gid_t group;
	int have_group;
	struct client *clients[MAX_CLIENTS];
	size_t nclients;
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop_seen, quit;
	struct mt_event *evbuf;
	uint64_t alert_seen;
	int64_t next_sample_ns, next_metrics_ns;
	int64_t sites_ns; /* when the suspects' pass under way reads its next slice; 0: none */
};

#define SAMPLE_NS  1000000000LL
#define METRICS_NS 5000000000LL
#define DRAIN_NS   5000000000LL /* for clients to read their last lines at exit */

/* Work out the default socket path: MEMTRACE_SOCKET, /run or $XDG_RUNTIME_DIR. */
static int control_default_path(char *buf, size_t size)
{
	const char *env = getenv("MEMTRACE_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/run/memtrace/memtraced.sock");
	else if (xdg && *xdg)
		n = snprintf(buf, size, "%s/memtrace/memtraced.sock", xdg);
	else {
		log_warnx("XDG_RUNTIME_DIR is not set; give the socket with -s PATH");
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= size) {
		log_warnx("socket path too long (at most %zu bytes): %s", size - 1,
			  env && *env ? env : xdg);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Create the socket's directory when missing: 0700, or 0710 for GROUP (-1: none). */
static int control_mkdir(const char *path, gid_t group, int have_group)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, have_group ? 0710 : 0700) == 0) {
		/* Group members must be able to reach the socket inside. */
		if (have_group && (chown(dir, (uid_t)-1, group) < 0 || chmod(dir, 0710) < 0)) {
			log_warn("cannot give %s to the socket group", dir);
			return -errno;
		}
	} else if (errno != EEXIST) {
		log_warn("cannot create %s", dir);
		return -errno;
	}
	return 0;
}

/* Bind and listen on C->path, replacing a stale socket, refusing a live one. */
static int control_listen(struct control *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat stb;
	mode_t old;
	int fd, err, staged;

	memcpy(sa.sun_path, c->path, sizeof(c->path));
	if (lstat(c->path, &stb) == 0) {
		if (!S_ISSOCK(stb.st_mode)) {
			log_warnx("%s exists and is not a socket; remove it or choose another -s",
				  c->path);
			return -EEXIST;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			log_warnx("another memtraced is listening on %s; stop it or use -s PATH",
				  c->path);
			return -EADDRINUSE;
		}
		if (fd >= 0)
			close(fd);
		/* Nobody answers: a stale socket from a daemon that died. */
		unlink(c->path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		log_warn("cannot make a socket for %s", c->path);
		return err;
	}
	/*
	 * Bind under a staging name (PATH~) and link it into place once
	 * listening, with its final mode: the path never exists without a
	 * listener behind it, so a client that waits for the file to appear is
	 * not refused; and link(), unlike rename(), fails where another daemon
	 * got there first.  A path with no room for the '~' is bound directly.
	 */
	staged = strlen(c->path) + 1 < sizeof(sa.sun_path);
	if (staged) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s~", c->path);
		/* A socket left by a daemon that died right here; nothing else. */
		if (lstat(sa.sun_path, &stb) == 0 && S_ISSOCK(stb.st_mode))
			unlink(sa.sun_path);
	}
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err < 0 || listen(fd, 128) < 0) {
		err = -errno;
		log_warn("cannot listen on %s", sa.sun_path);
		close(fd);
		if (staged && err != -EADDRINUSE)
			unlink(sa.sun_path);
		return err;
	}
	if (c->have_group &&
	    (chown(sa.sun_path, (uid_t)-1, c->group) < 0 || chmod(sa.sun_path, 0660) < 0)) {
		err = -errno;
		log_warn("cannot give %s to group %s", c->path, c->o->socket_group);
		close(fd);
		unlink(sa.sun_path);
		return err;
	}
	if (staged) {
		err = link(sa.sun_path, c->path) < 0 ? -errno : 0;
		unlink(sa.sun_path);
		if (err == -EEXIST) {
			log_warnx("another memtraced started on %s meanwhile; stop it or use -s PATH",
				  c->path);
		} else if (err < 0) {
			errno = -err;
			log_warn("cannot link %s into place", sa.sun_path);
		}
		if (err < 0) {
			close(fd);
			return err;
		}
	}
	if (lstat(c->path, &stb) == 0) {
		c->sock_dev = stb.st_dev;
		c->sock_ino = stb.st_ino;
	}
	c->listen_fd = fd;
	return 0;
}

/* Whether the peer UID/GID may use the socket: root, our uid, the group. */
static int control_allowed(struct control *c, uid_t uid, gid_t gid)
{
	struct passwd pw, *pwp;
	gid_t groups[256];
	int ngroups = 256;
	char buf[4096];

	if (uid == 0 || uid == geteuid())
		return 1;
	if (!c->have_group)
		return 0;
	if (gid == c->group)
		return 1;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) || !pwp)
		return 0;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) < 0)
		return 0;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == c->group)
			return 1;
	return 0;
}

/* Queue one JSON line for CL; drops the client when it will not read. */
static void client_send(struct client *cl, json_t *obj)
{
	char *text;
	size_t len;

	if (!obj)
		return;
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		return;
	len = strlen(text);
	if (cl->outlen - cl->outoff + len + 1 > MAX_OUT) {
		/* Not reading: stop serving rather than buffer without bound. */
		free(text);
		cl->closing = 2;
		return;
	}
	if (cl->outoff && cl->outoff == cl->outlen)
		cl->outoff = cl->outlen = 0;
	if (cl->outlen + len + 1 > cl->outcap) {
		size_t cap = (cl->outlen + len + 1) * 2;
		char *n = realloc(cl->out, cap);

		if (!n) {
			free(text);
			cl->closing = 2;
			return;
		}
		cl->out = n;
		cl->outcap = cap;
	}
	memcpy(cl->out + cl->outlen, text, len);
	cl->out[cl->outlen + len] = '\n';
	cl->outlen += len + 1;
	free(text);
}

/* Free a client; accepts NULL. */
static void client_free(struct client *cl)
{
	if (!cl)
		return;
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->out);
	free(cl);
}

/* Ask the tracer to stop and wake whoever waits for it. */
static void control_request_stop(struct control *c)
{
	/* options_parse() keeps durations within int milliseconds. */
	mt_session_stop(c->s, (int)(c->o->kill_timeout_ns / 1000000));
	pthread_mutex_lock(&c->lock);
	c->stop_seen = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/*
 * Append the events a follower has not seen yet.  Once more than FOLLOW_HIGH
 * bytes wait unread, the follower is left behind (nothing more is queued);
 * when it has read most of them it resumes where it stopped.  Events the
 * ring overwrote meanwhile are lost, and {"dropped":N} says how many; the
 * follower is never cut off for being slow.
 */
static void client_follow(struct control *c, struct client *cl)
{
	struct mt_names *names;
	uint64_t newest;
	size_t n;

	do {
		if (cl->outlen - cl->outoff > FOLLOW_HIGH) {
			cl->follow_behind = 1;
			return;
		}
		n = mt_session_events(c->s, cl->follow_seq, c->evbuf, FOLLOW_BATCH, &newest);
		if (n && c->evbuf[0].seq > cl->follow_seq + 1)
			client_send(cl, json_pack("{s:I}", "dropped",
						  (json_int_t)(c->evbuf[0].seq - cl->follow_seq - 1)));
		names = n ? mt_session_names(c->s, c->evbuf, n) : NULL;
		for (size_t i = 0; i < n && !cl->closing; i++) {
			const struct mt_event *ev = &c->evbuf[i];

			cl->follow_seq = ev->seq;
			if ((cl->follow_tid && ev->tid != cl->follow_tid) ||
			    (cl->follow_sys >= 0 && ev->sys != cl->follow_sys))
				continue;
			client_send(cl, json_pack("{s:o}", "event",
						  mt_proto_event(ev, mt_names_get(names, ev->tid))));
		}
		mt_names_free(names);
	} while (n == FOLLOW_BATCH && !cl->closing);
}

/* Answer one request line of CL. */
static void client_request(struct control *c, struct client *cl, const char *line, size_t len)
{
	const struct mt_cmd *cmd;
	json_t *req, *err;

	if (mt_proto_parse(line, len, &cmd, &req, &err) < 0) {
		client_send(cl, err);
		return;
	}
	/* Memory contents can hold secrets: every read is on the record. */
	if (cmd->flags & MT_CMD_AUDIT)
		log_info("peek by uid %d: %.*s", (int)cl->uid, (int)(len < 200 ? len : 200), line);
	if ((cmd->flags & MT_CMD_ROOT) && cl->uid != 0) {
		client_send(cl, mt_proto_error("denied", "%s: only root may do this", cmd->name));
	} else if (cmd->flags & MT_CMD_DAEMON) {
		/* The one command the daemon carries out itself: stop. */
		log_info("stop requested over the socket");
		client_send(cl, json_pack("{s:b}", "ok", 1));
		control_request_stop(c);
	} else {
		json_t *answer = mt_proto_handler(cmd)(c->s, req);

		if (cmd->flags & MT_CMD_WATCH)
			cl->watch = 1;
		if ((cmd->flags & MT_CMD_STREAM) && json_is_true(json_object_get(req, "follow")) &&
		    json_is_true(json_object_get(answer, "ok"))) {
			json_t *sys = json_object_get(req, "syscall");

			/* The stream goes on right after the newest event the answer covered. */
			cl->follow = 1;
			cl->follow_seq = (uint64_t)json_integer_value(json_object_get(answer, "newest"));
			cl->follow_tid = (pid_t)json_integer_value(json_object_get(req, "tid"));
			cl->follow_sys = sys ? mt_sys_from_name(json_string_value(sys)) : -1;
			mt_session_notify_arm(c->s);
		}
		client_send(cl, answer);
		if (cl->follow)
			client_follow(c, cl);
	}
	json_decref(req);
}

static int64_t control_now(void);

/* Read what CL sent into its input buffer. */
static void client_read(struct client *cl)
{
	ssize_t n;

	if (cl->eof || cl->inlen > MAX_LINE)
		return;
	n = read(cl->fd, cl->in + cl->inlen, MAX_LINE + 1 - cl->inlen);
	if (n == 0)
		cl->eof = 1; /* half-closed: answer what came, then close */
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		cl->closing = 2;
	else if (n > 0) {
		cl->inlen += (size_t)n;
		cl->active_ns = control_now();
	}
}

/*
 * The client to drop so that a new one fits in a full table: the one idle
 * longest, if it has been for IDLE_NS, and owes nothing (no stream, no
 * answer pending, no request begun).  A thousand idle connections then
 * cannot lock everyone else out.  -1: none.
 */
static ssize_t control_idlest(struct control *c)
{
	int64_t oldest = control_now() - IDLE_NS;
	ssize_t pick = -1;

	for (size_t i = 0; i < c->nclients; i++) {
		struct client *cl = c->clients[i];

		if (cl->follow || cl->watch || cl->inlen || cl->outoff < cl->outlen ||
		    cl->active_ns > oldest)
			continue;
		oldest = cl->active_ns;
		pick = (ssize_t)i;
	}
	return pick;
}

/*
 * Answer up to PER_ROUND complete lines of CL, and none while its answers
 * pile up unread: one client's pipelined requests never starve the others.
 * Lines left over are answered in the next rounds.
 */
static void client_process(struct control *c, struct client *cl)
{
	char *nl;
	int done = 0;

	while (!cl->closing && done < PER_ROUND && cl->outlen - cl->outoff < MAX_OUT / 2 &&
	       (nl = memchr(cl->in, '\n', cl->inlen))) {
		size_t len = (size_t)(nl - cl->in);

		if (cl->discarding)
			cl->discarding = 0;
		else
			client_request(c, cl, cl->in, len);
		memmove(cl->in, nl + 1, cl->inlen - len - 1);
		cl->inlen -= len + 1;
		done++;
	}
	if (cl->inlen > MAX_LINE && !memchr(cl->in, '\n', cl->inlen)) {
		if (!cl->discarding)
			client_send(cl, mt_proto_error("too_large", "a request line is at most %d bytes",
						       MAX_LINE));
		cl->discarding = 1;
		cl->inlen = 0;
	}
	cl->backlog = cl->inlen && memchr(cl->in, '\n', cl->inlen) != NULL;
	if (cl->eof && !cl->backlog && !cl->closing)
		cl->closing = cl->outoff < cl->outlen ? 1 : 2;
}

/* Write what CL has pending. */
static void client_write(struct client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t n = write(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				cl->closing = 2;
			return;
		}
		cl->outoff += (size_t)n;
	}
	cl->outoff = cl->outlen = 0;
	if (cl->closing == 1)
		cl->closing = 2;
}

/* Write what CL has pending; a follower that has read most of its backlog resumes. */
static void client_flush(struct control *c, struct client *cl)
{
	client_write(cl);
	if (cl->follow_behind && cl->outlen - cl->outoff < FOLLOW_HIGH / 2) {
		cl->follow_behind = 0;
		client_follow(c, cl);
	}
}

/* Accept a connection, checking the peer's credentials. */
static void control_accept(struct control *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *cl;
	ssize_t idle;
	int fd;

	fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->follow_sys = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    !control_allowed(c, cred.uid, cred.gid)) {
		log_info("refused a client with uid %d", (int)cred.uid);
		client_send(cl, mt_proto_error("denied", "uid %d may not use this socket",
					       (int)cred.uid));
		client_write(cl);
		client_free(cl);
		return;
	}
	if (c->nclients == MAX_CLIENTS && (idle = control_idlest(c)) >= 0) {
		log_info("%d clients: dropping one idle for %llds", MAX_CLIENTS,
			 (long long)((control_now() - c->clients[idle]->active_ns) / 1000000000));
		client_free(c->clients[idle]);
		c->clients[idle] = c->clients[--c->nclients];
	}
	if (c->nclients == MAX_CLIENTS) {
		client_send(cl, mt_proto_error("too_many_clients", "at most %d clients at once, "
					       "none idle for %llds", MAX_CLIENTS,
					       IDLE_NS / 1000000000));
		client_write(cl);
		client_free(cl);
		return;
	}
	cl->uid = cred.uid;
	cl->active_ns = control_now();
	c->clients[c->nclients++] = cl;
}

/* Deliver new alerts: the log, --alert-exec, and watching clients. */
static void control_alerts(struct control *c)
{
	struct mt_alert a[16];
	uint64_t newest;
	size_t n;

	do {
		n = mt_session_alerts(c->s, c->alert_seen, a, 16, &newest);
		for (size_t i = 0; i < n; i++) {
			json_t *j = mt_proto_alert(&a[i]);
			struct mt_status st;

			c->alert_seen = a[i].seq;
			if (!j)
				continue;
			mt_session_status(c->s, &st);
			json_object_set_new(j, "pid", json_integer(st.pid));
			log_alert(j);
			/* options_parse() keeps durations within int milliseconds. */
			if (c->o->alert_exec)
				alertexec_run(c->o->alert_exec, j,
					      (int)(c->o->alert_timeout_ns / 1000000));
			for (size_t k = 0; k < c->nclients; k++)
				if (c->clients[k]->watch && !c->clients[k]->closing)
					client_send(c->clients[k],
						    json_pack("{s:O}", "alert", j));
			json_decref(j);
		}
	} while (n == 16);
}

/* Rewrite the --metrics-file atomically (write a temporary, rename it over). */
static void control_metrics_file(struct control *c)
{
	char tmp[4096], *text;
	int ok = 0;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", c->o->metrics_file) >= (int)sizeof(tmp))
		return;
	if (!(text = mt_metrics_text(c->s)))
		return;
	errno = 0;
	if ((f = fopen(tmp, "we"))) {
		ok = fputs(text, f) >= 0;
		ok = fclose(f) == 0 && ok;
		ok = ok && rename(tmp, c->o->metrics_file) == 0;
	}
	if (!ok) {
		int err = errno ? errno : EIO;

		/* Every 5 s while the disk stays full would bury the log: once per cause. */
		if (err != c->metrics_err)
			log_warnx("--metrics-file %s: %s (tracing goes on; retried every %d s)",
				  c->o->metrics_file, strerror(err), (int)(METRICS_NS / 1000000000));
		c->metrics_err = err;
		unlink(tmp);
	} else if (c->metrics_err) {
		log_info("--metrics-file %s: written again", c->o->metrics_file);
		c->metrics_err = 0;
	}
	free(text);
}

/*
 * Say once when our socket file is gone (its directory removed, say) or
 * replaced: memtracectl can no longer reach this daemon, though tracing
 * goes on as before.
 */
static void control_check_socket(struct control *c)
{
	struct stat stb;
	int gone;

	if (c->listen_fd < 0 || c->sock_lost)
		return;
	gone = lstat(c->path, &stb) < 0;
	if (!gone && stb.st_dev == c->sock_dev && stb.st_ino == c->sock_ino)
		return;
	c->sock_lost = 1;
	log_warnx("control socket %s is %s: memtracectl cannot reach this daemon (tracing goes "
		  "on; SIGTERM ends it)",
		  c->path, gone ? "gone" : "replaced by another file");
}

/* Tell systemd (Type=notify) the chunk total at a glance; a no-op elsewhere. */
static void control_notify_status(struct control *c)
{
	struct mt_status st;
	char b1[16], b2[16];

	if (!getenv("NOTIFY_SOCKET"))
		return;
	mt_session_status(c->s, &st);
	if (st.ceiling)
		sd_notifyf(0, "STATUS=pid %d %s: %llu chunks, %s = %.1f%% of %s, level %s", st.pid,
			   mt_state_name(st.state), (unsigned long long)st.count[MT_CLASS_CHUNK],
			   mt_format_size(st.bytes[MT_CLASS_CHUNK], b1, sizeof(b1)),
			   100.0 * (double)st.bytes[MT_CLASS_CHUNK] / (double)st.ceiling,
			   mt_format_size(st.ceiling, b2, sizeof(b2)), mt_level_name(st.level));
	else
		sd_notifyf(0, "STATUS=pid %d %s: %llu chunks, %s, no ceiling", st.pid,
			   mt_state_name(st.state), (unsigned long long)st.count[MT_CLASS_CHUNK],
			   mt_format_size(st.bytes[MT_CLASS_CHUNK], b1, sizeof(b1)));
}

/* Monotonic now in ns. */
static int64_t control_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Periodic work: growth samples every second, the metrics file every 5 s.
 * Returns the ns until the next work is due, a slice of the suspects' pass
 * included.
 */
static int64_t control_tick(struct control *c)
{
	int64_t now = control_now(), next;

	if (now >= c->next_sample_ns) {
		/* A sample can raise or clear a trend alert. */
		if (mt_session_sample(c->s))
			control_alerts(c);
		/* It may have begun a suspects pass: control_sites_step() reads it. */
		if (!c->sites_ns)
			c->sites_ns = now;
		control_check_socket(c);
		c->next_sample_ns = now + SAMPLE_NS;
	}
	if (now >= c->next_metrics_ns) {
		if (c->o->metrics_file)
			control_metrics_file(c);
		control_notify_status(c);
		c->next_metrics_ns = now + METRICS_NS;
	}
	next = c->next_sample_ns < c->next_metrics_ns ? c->next_sample_ns : c->next_metrics_ns;
	if (c->sites_ns && c->sites_ns < next)
		next = c->sites_ns;
	return next > now ? next - now : 0;
}

/*
 * Read the next slice of the suspects' pass under way, once the lock has
 * been free the while it asks for: one slice per turn of the loop, so the
 * clients ready meanwhile are served between slices, and a stream of
 * queries does not hold the pass back either.
 */
static void control_sites_step(struct control *c)
{
	long gap;

	if (!c->sites_ns || control_now() < c->sites_ns)
		return;
	gap = mt_session_sites_step(c->s);
	c->sites_ns = gap ? control_now() + gap : 0;
}

/* Drain the session's notify fd; feed followers and deliver alerts. */
static void control_notified(struct control *c)
{
	uint64_t v;

	if (read(mt_session_notify_fd(c->s), &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("notify fd");
	control_alerts(c);
	/* Arm before reading, so an event recorded meanwhile notifies again. */
	for (size_t i = 0; i < c->nclients; i++)
		if (c->clients[i]->follow && !c->clients[i]->closing) {
			mt_session_notify_arm(c->s);
			break;
		}
	for (size_t i = 0; i < c->nclients; i++)
		if (c->clients[i]->follow && !c->clients[i]->closing)
			client_follow(c, c->clients[i]);
}

/* The control thread's loop. */
static void *control_main(void *arg)
{
	struct control *c = arg;
	struct pollfd pfd[MAX_CLIENTS + 4];

	/* --cpu pins the tracer (and so the thread that made us): not our job. */
	if (c->o->cfg.cpu >= 0)
		sched_setaffinity(0, sizeof(c->o->all_cpus), &c->o->all_cpus);

	for (;;) {
		size_t n = 0;
		int64_t timeout = control_tick(c);

		pthread_mutex_lock(&c->lock);
		if (c->quit) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		pthread_mutex_unlock(&c->lock);
		pfd[n++] = (struct pollfd){c->wake_fd, POLLIN, 0};
		pfd[n++] = (struct pollfd){c->signal_fd, POLLIN, 0};
		pfd[n++] = (struct pollfd){mt_session_notify_fd(c->s), POLLIN, 0};
		pfd[n++] = (struct pollfd){c->listen_fd, c->listen_fd >= 0 ? POLLIN : 0, 0};
		for (size_t i = 0; i < c->nclients; i++) {
			struct client *cl = c->clients[i];
			short ev = 0;

			/* Stop reading a client whose answers pile up. */
			if (!cl->closing && !cl->eof && cl->inlen <= MAX_LINE &&
			    cl->outlen - cl->outoff < MAX_OUT / 2)
				ev |= POLLIN;
			/* Lines already read wait for an answer: do not sleep. */
			if (cl->backlog && !cl->closing && cl->outlen - cl->outoff < MAX_OUT / 2)
				timeout = 0;
			if (cl->outoff < cl->outlen)
				ev |= POLLOUT;
			pfd[n++] = (struct pollfd){cl->fd, ev, 0};
		}
		if (ppoll(pfd, n,
			  &(struct timespec){(time_t)(timeout / 1000000000), (long)(timeout % 1000000000)},
			  NULL) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			break;
		}
		if (pfd[0].revents) {
			uint64_t v;

			if (read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("wake fd");
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(c->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGPIPE)
					continue;
				/* A second memtraced --pid asks a keeper for the target. */
				if (si.ssi_signo == SIGUSR1) {
					mt_session_handover(c->s);
					continue;
				}
				log_info("%s: stopping", strsignal((int)si.ssi_signo));
				control_request_stop(c);
			}
		}
		if (pfd[2].revents)
			control_notified(c);
		for (size_t i = 0; i < c->nclients; i++) {
			struct client *cl = c->clients[i];
			short re = pfd[4 + i].revents;

			if (re & (POLLERR | POLLNVAL))
				cl->closing = 2;
			if (!cl->closing && (re & (POLLIN | POLLHUP)))
				client_read(cl);
			if (!cl->closing && (cl->backlog || (re & (POLLIN | POLLHUP))))
				client_process(c, cl);
			if (cl->closing != 2 && cl->outoff < cl->outlen)
				client_flush(c, cl);
		}
		for (size_t i = 0; i < c->nclients;) {
			if (c->clients[i]->closing == 2) {
				client_free(c->clients[i]);
				c->clients[i] = c->clients[--c->nclients];
			} else {
				i++;
			}
		}
		if (pfd[3].revents & POLLIN)
			control_accept(c);
		control_sites_step(c);
	}
	return NULL;
}

/*
 * Bind the socket (refusing a live one) and set up; connections wait in the
 * backlog until control_serve(), so the first answer already sees the
 * target seeded.  Every failure is logged here, once, with its detail.
 */
int control_start(struct mt_session *s, const struct options *o, struct control **out)
{
	struct control *c;
	sigset_t set;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c) {
		log_warnx("control socket: out of memory");
		return -ENOMEM;
	}
	c->s = s;
	c->o = o;
	c->listen_fd = c->signal_fd = c->wake_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->evbuf = calloc(FOLLOW_BATCH, sizeof(*c->evbuf));
	if (!c->evbuf) {
		log_warnx("control socket: out of memory");
		err = -ENOMEM;
		goto fail;
	}
	if (o->socket_group) {
		struct group *gr = getgrnam(o->socket_group);

		if (!gr) {
			log_warnx("--socket-group: no group named '%s'", o->socket_group);
			err = -EINVAL;
			goto fail;
		}
		c->group = gr->gr_gid;
		c->have_group = 1;
	}
	if (!o->no_socket) {
		if (o->socket) {
			if (snprintf(c->path, sizeof(c->path), "%s", o->socket) >= (int)sizeof(c->path)) {
				log_warnx("socket path too long: %s", o->socket);
				err = -ENAMETOOLONG;
				goto fail;
			}
		} else if ((err = control_default_path(c->path, sizeof(c->path))) < 0) {
			goto fail;
		}
		if ((err = control_mkdir(c->path, c->group, c->have_group)) < 0 ||
		    (err = control_listen(c)) < 0)
			goto fail;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGUSR1);
	c->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->signal_fd < 0 || c->wake_fd < 0) {
		err = -errno;
		log_warn("control thread: cannot make its signalfd or eventfd");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	control_free(c);
	return err;
}

/*
 * The target is gone: hand every follower and watcher the rest of its
 * stream and every client its last answers (the reply to "stop"), giving
 * readers up to DRAIN_NS to take them, so nothing recorded is lost.
 */
static void control_drain(struct control *c)
{
	int64_t deadline = control_now() + DRAIN_NS;
	struct pollfd pfd[MAX_CLIENTS];

	control_alerts(c);
	for (size_t i = 0; i < c->nclients; i++)
		if (c->clients[i]->follow && !c->clients[i]->closing)
			client_follow(c, c->clients[i]);
	for (;;) {
		int64_t left = deadline - control_now();
		size_t n = 0;

		for (size_t i = 0; i < c->nclients; i++) {
			struct client *cl = c->clients[i];
			int pending = cl->closing != 2 && cl->outoff < cl->outlen;

			pfd[i] = (struct pollfd){cl->fd, pending ? POLLOUT : 0, 0};
			n += pending;
		}
		if (!n || left <= 0 || poll(pfd, c->nclients, (int)(left / 1000000) + 1) <= 0)
			break;
		for (size_t i = 0; i < c->nclients; i++) {
			struct client *cl = c->clients[i];

			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				cl->closing = 2;
			} else if (pfd[i].revents & POLLOUT) {
				client_flush(c, cl);
			}
		}
	}
}

/* Start answering: the target is launched or attached and seeded by now. */
int control_serve(struct control *c)
{
	int err = -pthread_create(&c->thread, NULL, control_main, c);

	if (err == 0)
		c->running = 1;
	return err;
}

/* After the target is gone: with LINGER, serve until a stop request. */
void control_target_done(struct control *c, int linger)
{
	if (!c || !linger)
		return;
	log_info("target exited; still answering until stopped (--linger)");
	pthread_mutex_lock(&c->lock);
	while (!c->stop_seen)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* Stop the thread, close everything, remove the socket file. */
void control_free(struct control *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	if (c->running) {
		pthread_mutex_lock(&c->lock);
		c->quit = 1;
		pthread_mutex_unlock(&c->lock);
		if (write(c->wake_fd, &one, sizeof(one)) < 0)
			log_warn("wake fd");
		pthread_join(c->thread, NULL);
		control_drain(c);
		/* The last word: the target no longer runs (memtrace_target_running 0). */
		if (c->o->metrics_file)
			control_metrics_file(c);
	}
	for (size_t i = 0; i < c->nclients; i++)
		client_free(c->clients[i]);
	if (c->listen_fd >= 0) {
		struct stat stb;

		close(c->listen_fd);
		/* Another daemon may have replaced our file since: leave that one be. */
		if (lstat(c->path, &stb) == 0 && stb.st_dev == c->sock_dev && stb.st_ino == c->sock_ino)
			unlink(c->path);
	}
	if (c->signal_fd >= 0)
		close(c->signal_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->evbuf);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
