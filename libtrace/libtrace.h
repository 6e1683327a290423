/*
 * libtrace.h - memtrace's tracing library, the only header the daemon and
 * the CLI include.
 *
 * A session launches (or attaches to) a target, follows every thread and
 * descendant under ptrace, records each memory syscall (mmap, munmap,
 * mremap, mprotect, brk) into a bounded event ring and keeps an exact table
 * of the target's outstanding mappings.
 *
 * Threads: mt_session_run() is the tracer loop and owns every ptrace
 * request; it must run on one thread for the whole session.  The query
 * functions (mt_session_status() and friends) may be called from any other
 * thread at any time; they copy what they need under a short internal lock
 * and never block the tracer for longer than that copy.
 *
 * Errors: functions return 0 or a negative errno value; they never exit and
 * never print.  Out-parameters are left untouched on failure.
 */
#ifndef LIBTRACE_H
#define LIBTRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <sys/types.h>

struct json_t;

/* Size classes of a mapping (see mt_config.chunk_size). */
enum mt_class {
	MT_CLASS_SMALL,
	MT_CLASS_CHUNK,
	MT_CLASS_LARGE,
	MT_CLASS_COUNT
};

/* Memory syscalls memtrace traces, in the order of its tables. */
enum mt_sys {
	MT_SYS_MMAP,
	MT_SYS_MUNMAP,
	MT_SYS_MREMAP,
	MT_SYS_MPROTECT,
	MT_SYS_BRK,
	MT_SYS_COUNT
};

/* Kinds of a mapping, a bit set. */
#define MT_MAP_ANON        0x01u /* anonymous memory */
#define MT_MAP_BRK         0x02u /* the brk heap */
#define MT_MAP_PREEXISTING 0x04u /* present before tracing began (exec or attach) */
/*
 * Never a chunk: placed with MAP_FIXED (a JVM committing part of its own
 * reservation) or inside a MAP_NORESERVE reservation (a glibc arena heap
 * grown by mprotect).  glibc mmaps a malloc'd chunk with neither.
 */
#define MT_MAP_NOCHUNK 0x08u
/*
 * Direct memory: made on the JVM's Unsafe.allocateMemory path (its native
 * stack passes through HotSpot's Unsafe_AllocateMemory0), whatever its size.
 */
#define MT_MAP_DIRECT 0x10u

enum mt_log_level { MT_LOG_DEBUG, MT_LOG_INFO, MT_LOG_WARN };

/* Which memory syscalls get a native stack. */
enum mt_stacks {
	MT_STACKS_CHUNK, /* mmap/mremap of chunk or large size (the default) */
	MT_STACKS_NONE,
	MT_STACKS_LARGE, /* of large size only */
	MT_STACKS_ALL,	 /* every memory syscall */
};
#define MT_STACK_MAX 64

/* How an attached process is traced. */
enum mt_attach_mode {
	MT_ATTACH_SYSCALL, /* every syscall stops (PTRACE_SYSCALL); fully detachable */
	MT_ATTACH_FILTER,  /* memtrace's seccomp filter installed in the target; never detached */
};

struct mt_config {
	uint64_t chunk_size;  /* 0: from the JVM's Netty flags, else 16 MiB */
	uint64_t chunk_slack; /* default 8 KiB */
	uint64_t ceiling;     /* 0: from the JVM's flags, else none */
	double warn_percent;  /* alert levels, percent of the ceiling: 80 */
	double crit_percent;  /* 95 */
	double clear_margin;  /* an alert clears this many points below its level: 5 */
	int count_large;      /* alerts weigh chunk + large bytes, not chunks alone */
	int allow_peek;       /* the peek command may read target memory */
	double window_s;      /* growth-rate window, seconds: 60 */
	double eta_warn_s;    /* trend alerts: warn when the ceiling is this near at a steady */
	double eta_crit_s;    /* rate, crit at this; seconds, 0 off: 12 h and 10 min */
	int cpu;	      /* launch mode: run target and tracer on this CPU; -1: no */
	enum mt_stacks stacks;
	unsigned stack_depth; /* frames per stack, at most MT_STACK_MAX: 32 */
	uint64_t min_size;    /* mmap shorter than this (and not MAP_FIXED) is not traced */
	size_t ring_events;   /* event ring capacity, default 1,048,576 */
	char name[64];	      /* the target's name in metrics labels; "" for "unknown" */
	int wake_signal;      /* signal mt_session_stop() sends the tracer thread */
	int java_names;	      /* learn Java thread names (mt_session_java_names): 1 */
	int perf_map;	      /* ask the JVM for its perf map (mt_session_perf_map): 1 */
	enum mt_attach_mode attach_mode; /* how --pid traces: MT_ATTACH_SYSCALL by default */
	/* Filter mode: the program run as the guard (it calls mt_guard_main()); NULL: none. */
	const char *guard_exe;
	/* Signal mask the target starts with; NULL keeps the caller's. */
	const sigset_t *child_sigmask;
	/* Optional debug logging; called on the tracer thread. */
	void (*log)(enum mt_log_level level, const char *msg, void *arg);
	void *log_arg;
};

/* Fill CFG with the defaults. */
void mt_config_default(struct mt_config *cfg);

/* One recorded memory syscall. */
struct mt_event {
	uint64_t seq;     /* 1-based sequence number, never reused */
	int64_t time_ns;  /* wall clock at syscall entry */
	uint64_t dur_ns;  /* entry to exit, as seen by the tracer */
	pid_t pid, tid;
	uint8_t sys;      /* enum mt_sys */
	uint8_t done;     /* 0 when the result was never seen (the task died) */
	uint8_t inferred; /* result known without an exit stop (see session.c) */
	uint32_t stack_id; /* 0: no stack captured */
	uint8_t direct;	   /* made on the direct-memory path (see MT_MAP_DIRECT) */
	uint64_t args[6];
	int64_t ret;      /* result: address, value, or -errno */
};

/* Whether EV's call failed: its result is -errno, -4095 to -1, never an address. */
static inline int mt_event_failed(const struct mt_event *ev)
{
	return ev->ret < 0 && ev->ret >= -4095;
}

/*
 * Room for a thread's name as shown: its full Java name when memtrace has
 * learned it from the JVM, else the kernel's comm (15 bytes at most).  A
 * longer Java name is cut at a character boundary.
 */
#define MT_NAME_MAX 128

/* One outstanding mapping, as copied out of the table. */
struct mt_mapping {
	uint64_t start, len;
	int prot, flags;  /* PROT_* and MAP_* of the creating call */
	unsigned kind;    /* MT_MAP_* */
	enum mt_class class;
	uint32_t stack_id; /* 0: none */
	uint64_t id;	   /* seq of the event that created it; 0 when preexisting */
	pid_t tid;        /* creator, 0 when preexisting */
	int64_t time_ns;  /* creation time, 0 when preexisting */
	char comm[16];    /* creator's thread name, the kernel's */
	char name[MT_NAME_MAX]; /* creator's name as shown: Java's, else comm */
};

/* Per-thread figures. */
struct mt_thread {
	pid_t pid, tid;
	char comm[16];		/* the kernel's name, 15 bytes at most */
	char name[MT_NAME_MAX]; /* as shown: the Java name when known, else comm */
	int java;		/* NAME is the Java name */
	int alive;
	uint64_t mapped_count, mapped_bytes;
	uint64_t unmapped_count, unmapped_bytes;
	uint64_t outstanding_count, outstanding_bytes;
	uint64_t chunk_count, chunk_bytes; /* outstanding chunks it created */
};

enum mt_state { MT_STATE_STARTING, MT_STATE_RUNNING, MT_STATE_EXITED, MT_STATE_DETACHED };

enum mt_level { MT_LEVEL_OK, MT_LEVEL_WARN, MT_LEVEL_CRIT };

/* Where thread names come from (mt_session_java_names). */
enum mt_jnames {
	MT_JNAMES_DISABLED, /* java_names is 0: comm only */
	MT_JNAMES_WAITING,  /* no thread dump read yet (a JVM starting, a failure to retry) */
	MT_JNAMES_LEARNED,  /* from the JVM's thread dumps */
	MT_JNAMES_NOT_JVM,  /* the target is no HotSpot JVM (checked again as threads appear) */
	MT_JNAMES_REFUSED,  /* the JVM refuses to attach: comm only, never asked again */
};

/* The perf map memtraced asks the JVM for (mt_session_perf_map). */
enum mt_perfmap {
	MT_PERFMAP_DISABLED, /* perf_map is 0: only a map the JVM wrote itself */
	MT_PERFMAP_IDLE,     /* not asked: every frame named, or the JVM's structures read */
	MT_PERFMAP_WRITTEN,  /* the JVM wrote its map when last asked */
	MT_PERFMAP_FAILED,   /* the last request failed, to be retried (see the note) */
	MT_PERFMAP_NOT_JVM,  /* the target is no HotSpot JVM */
	MT_PERFMAP_REFUSED,  /* the JVM refuses (attaching off, no Compiler.perfmap): never again */
};

/* One of the threads holding the most chunk bytes. */
struct mt_top_thread {
	pid_t tid;
	char comm[16];
	char name[MT_NAME_MAX]; /* as shown: Java's, else comm */
	uint64_t chunk_bytes, chunk_count;
	uint64_t direct_bytes, direct_count;
};

/* An alert: a level raised or cleared. */
struct mt_alert {
	uint64_t seq;	 /* 1-based */
	int64_t time_ns;
	enum mt_level level;
	int raised;	 /* 1 raised, 0 cleared */
	uint64_t bytes;	 /* the weighed bytes at that moment */
	int direct;	 /* BYTES is direct memory (else chunks by size) */
	uint64_t direct_bytes, direct_count; /* direct memory seen at that moment */
	uint64_t hidden_bytes; /* direct memory that may be out of sight (mt_status) */
	uint64_t arena_direct_bytes; /* direct memory seen growing malloc arenas (mt_status) */
	uint64_t ceiling;
	double rate;	 /* growth, bytes per second, over the window */
	double overall_rate; /* growth, bytes per second, since the first sample */
	double eta_s;	 /* projected seconds to the ceiling; < 0 when none */
	const char *trend;
	const char *cause; /* "percent" (the levels) or "trend" (--eta-warn, --eta-crit) */
	char reason[96];   /* why: "+4.3 MiB/s for 40 s, ceiling in 52 s", "80.2% >= 80%" */
	struct mt_top_thread top[5]; /* threads holding the most weighed bytes; tid 0 ends the list */
};

/* Growth of the weighed bytes (chunks, or chunks + large). */
struct mt_growth {
	uint64_t bytes;
	double window_s;     /* the window actually covered */
	double rate;	     /* bytes per second over the window */
	double overall_rate; /* bytes per second since the first sample */
	double eta_s;	     /* seconds until the ceiling at RATE; < 0 when none */
	const char *trend;   /* "growing", "flat", "falling", "unknown" */
};

/* The trend alert: steady growth projected to the ceiling (see trend.c). */
struct mt_trend {
	enum mt_level level; /* the trend alert in force, after hysteresis */
	int steady;	     /* the last samples grow steadily */
	double rate;	     /* bytes per second over the trend; 0 when not steady */
	double duration_s;   /* how long the trend has lasted */
	double eta_s;	     /* seconds to the ceiling at RATE; < 0 when not steady */
	double eta_warn_s, eta_crit_s; /* the horizons in force; 0: off */
	char reason[96];     /* "+4.3 MiB/s for 40 s, ceiling in 52 s" or "no steady growth" */
};

struct mt_sample {
	int64_t time_ns;
	uint64_t bytes;
};

/* The timeline for pictures (timeline.c): bounded, downsampled for long runs. */
#define MT_TL_THREADS 6 /* threads kept a point, most outstanding bytes first */

/* One thread's outstanding bytes at a point. */
struct mt_tl_thread {
	pid_t tid; /* 0: no more threads in this point */
	uint64_t bytes;
};

/* One point of the timeline: one real sample, never an average. */
struct mt_tl_point {
	int64_t time_ns;      /* CLOCK_REALTIME */
	uint64_t bytes;	      /* weighed bytes (what alerts weigh) */
	uint64_t chunk_bytes; /* chunk-class bytes */
	uint64_t outstanding_bytes;
	struct mt_tl_thread threads[MT_TL_THREADS];
};

struct mt_status {
	pid_t pid;
	int attached;
	enum mt_level level;	     /* the higher of the two below */
	enum mt_level percent_level; /* from --warn and --crit */
	enum mt_level trend_level;   /* from --eta-warn and --eta-crit */
	char ceiling_source[128];
	char chunk_source[128];
	uint64_t arena_bytes;	 /* committed inside MAP_NORESERVE reservations (glibc heaps) */
	int threshold_pinned;	 /* glibc's mmap threshold fixed in the target's environment */
	enum mt_state state;
	int exit_status;  /* waitpid() status of the target, valid when EXITED */
	int64_t start_ns; /* wall clock when tracing began */
	int64_t end_ns;   /* wall clock when the target exited, or 0 */
	uint64_t count[MT_CLASS_COUNT], bytes[MT_CLASS_COUNT];
	uint64_t outstanding_count, outstanding_bytes;
	uint64_t reserved_bytes, committed_bytes; /* PROT_NONE vs the rest */
	uint64_t brk_bytes;
	uint64_t seeded_count, seeded_bytes;      /* preexisting at exec/attach */
	int64_t attach_held_ns; /* attached: how long the attach held the target stopped */
	int64_t seed_ns;	/* of which seeding the table took */
	enum mt_attach_mode attach_mode; /* attached: the mode in force */
	int keeping;		/* filter mode, stop requested: handed to the guard, or kept until it exits */
	pid_t guard;		/* filter mode: the guard that takes over if memtraced dies, or 0 */
	char attach_note[200];	/* attached: why the filter is not in force, or "" */
	uint64_t chunk_size, chunk_slack, ceiling;
	double warn_percent, crit_percent;
	uint64_t events_recorded, events_dropped;
	uint64_t events_by_sys[MT_SYS_COUNT];
	uint64_t child_events; /* events of descendants in other address spaces */
	uint64_t threads_alive, threads_seen, tasks_alive;
	enum mt_jnames java_names; /* where thread names come from */
	uint64_t java_named;	   /* live threads known by their Java names */
	uint64_t java_dumps;	   /* thread dumps read */
	char java_names_note[256]; /* why names are not Java's, or the last failure */
	enum mt_perfmap perf_map;  /* the perf map asked of the JVM */
	uint64_t perf_map_requests; /* Compiler.perfmap requests sent */
	char perf_map_note[256];   /* the last failure, or "" */
	/* Direct memory (see MT_MAP_DIRECT). */
	int jvm;	     /* the target is a java launcher */
	int direct_weighing; /* alerts weigh direct memory, not chunks by size */
	uint64_t direct_count, direct_bytes; /* outstanding */
	uint64_t direct_mmaps;		     /* direct mmaps seen since exec or attach */
	uint64_t seeded_chunk_bytes; /* chunks there before tracing: weighed, origin unknown */
	/*
	 * Direct memory that may be out of sight: the malloc arenas' committed
	 * bytes (buffers below glibc's mmap threshold, or all of them once an
	 * unpinned threshold has risen past the chunk size).  An upper bound.
	 */
	uint64_t hidden_bytes;
	/*
	 * Of direct_bytes, the arena growth (brk, or the mprotect that extends a
	 * thread arena's heap) made on the direct-memory path: direct memory
	 * malloc served from an arena, seen without an mmap of its own.
	 */
	uint64_t arena_direct_bytes;
	int netty_version[3]; /* from the jars the JVM has open; 0: not found */
};

/* What a leak suspect looks like, most suspect first (see sites.c). */
enum mt_verdict {
	MT_VERDICT_LEAKING,  /* grew steadily, never freed, still growing, oldest mapping live */
	MT_VERDICT_GROWING,  /* grows, but frees some */
	MT_VERDICT_HOLDING,  /* holds old mappings, not growing */
	MT_VERDICT_NEW,	     /* seen too briefly to judge */
	MT_VERDICT_CHURNING, /* maps and frees: what it holds is young or nothing */
};

/* An allocation site (stack, thread) judged as a leak suspect. */
struct mt_suspect {
	uint32_t stack_id; /* 0: no stack captured */
	pid_t tid;
	char comm[16];
	char name[MT_NAME_MAX]; /* as shown: Java's, else comm */
	enum mt_verdict verdict;
	double score;	      /* steadiness * (0.5 + 0.5 * age_ratio), 0 to 1 */
	double steadiness;    /* R^2 of its growth, discounted by what it freed; 0 to 1 */
	double age_ratio;     /* oldest live mapping's age over the time followed; 0 to 1 */
	double rate;	      /* bytes per second, fitted over its history */
	double oldest_age_s;  /* age of its oldest live mapping; 0 when none */
	double tracked_s;     /* how long the site has been followed */
	uint64_t bytes, count; /* outstanding */
	uint64_t freed_bytes; /* decreases seen between walks */
};

/* Filter for mt_session_outstanding(). Zero means "any". */
struct mt_filter {
	int class; /* -1 any, else enum mt_class */
	int direct; /* only direct memory (MT_MAP_DIRECT) */
	uint64_t min_size;
	int64_t older_than_ns;
	pid_t tid;
};

struct mt_session;

/* Create a session. The caller frees it with mt_session_free(). */
int mt_session_new(const struct mt_config *cfg, struct mt_session **out);
/* Free a session; accepts NULL. Tracees still attached are killed (launch). */
void mt_session_free(struct mt_session *s);

/*
 * Start ARGV[0] (searched in PATH) with environment ENVP as the traced
 * target, under the seccomp filter.  The child is stopped before exec until
 * mt_session_run() starts.  Returns the child's pid, or -errno.
 */
int mt_session_launch(struct mt_session *s, char *const argv[], char *const envp[]);

/*
 * Attach to the running process PID: seize every thread, seed the table
 * from /proc/PID/maps, then trace with syscall stops.  On stop, detach
 * and leave every thread as it was.  Same thread rule as launch.
 * Returns 0 or -errno; mt_attach_explain() turns that into a message.
 */
int mt_session_attach(struct mt_session *s, pid_t pid);
/* Write into BUF why attaching to PID failed with ERR, and what to do. */
void mt_attach_explain(pid_t pid, int err, char *buf, size_t size);

/*
 * The guard process's body (guard.c): wait for the death of memtraced
 * (pid DAEMON), then trace PID and the children it forked under the
 * filter, resuming every stop, until they are gone.
 * Returns the guard's exit status.
 */
int mt_guard_main(pid_t pid, pid_t daemon);

/*
 * The tracer loop.  Returns when no tracee is left or after a stop request
 * has been carried out.  Must be called on the thread that called
 * mt_session_launch().
 */
int mt_session_run(struct mt_session *s);

/*
 * Ask the tracer loop to end: in launch mode the target gets SIGTERM, then
 * SIGKILL after GRACE_MS.  Safe from any thread and from a signal handler.
 */
void mt_session_stop(struct mt_session *s, int grace_ms);

/*
 * A second memtraced asks for the target (SIGUSR1); async-signal-safe.  A
 * keeper leaves every thread of the target in a group-stop, untraced, for
 * it, waits until it holds them all, and goes on with the target's
 * children, its tracer loop ending when none is left; when no new tracer
 * comes within 10 s, it takes the target back.  In any other state nothing
 * happens.
 */
void mt_session_handover(struct mt_session *s);

/*
 * Record a sample of the weighed bytes for growth, history and the trend
 * alert; call about once a second, from one thread.  Every 2 s it also
 * begins a pass over the outstanding mappings for suspects, which
 * mt_session_sites_step() reads.  Returns 1 when it made an alert (read it
 * with mt_session_alerts()).
 */
int mt_session_sample(struct mt_session *s);
/*
 * Read the next slice of the suspects' pass under way (a few thousand
 * mappings in one hold of the session lock), ending the pass after its
 * last; from the thread that calls mt_session_sample().  Returns how long,
 * in ns, to leave the lock free before the next call (for the tracer to
 * take it), or 0 when no pass is under way any more.  Until a pass ends,
 * suspects show the figures of the one before.
 */
long mt_session_sites_step(struct mt_session *s);
/* The trend alert's state and its reason. */
void mt_session_trend(struct mt_session *s, struct mt_trend *out);
/*
 * Judge and rank the allocation sites, most suspect first, into *OUT (the
 * caller frees it); *UNTRACKED receives the bytes of sites not followed.
 * Returns the count or -errno.
 */
ssize_t mt_session_suspects(struct mt_session *s, struct mt_suspect **out, uint64_t *untracked);
const char *mt_verdict_name(enum mt_verdict v);
/* Growth rate and projection over the configured window. */
void mt_session_growth(struct mt_session *s, struct mt_growth *g);
/* Copy up to MAX samples, evenly spread over the whole history, oldest first. */
size_t mt_session_history(struct mt_session *s, struct mt_sample *out, size_t max);
/*
 * Copy up to MAX points of the timeline, evenly spread over the whole run,
 * oldest first, the newest sample last.
 */
size_t mt_session_timeline(struct mt_session *s, struct mt_tl_point *out, size_t max);
/* Copy up to MAX alerts with seq > AFTER; *NEWEST receives the newest seq. */
size_t mt_session_alerts(struct mt_session *s, uint64_t after, struct mt_alert *out, size_t max,
			 uint64_t *newest);
/* The up to MAX threads holding the most chunk bytes now, most first, into OUT; the count. */
size_t mt_session_top_threads(struct mt_session *s, struct mt_top_thread *out, size_t max);
const char *mt_level_name(enum mt_level level);
int mt_level_from_name(const char *name); /* -1 when unknown */

/* JVM flags (jvm.c). */
struct mt_jvm_env {
	const char *java_tool_options, *jdk_java_options, *java_options; /* may be NULL */
	uint64_t phys_mem;     /* bytes */
	uint64_t cgroup_limit; /* 0: none */
	unsigned cpus;	       /* for HotSpot's choice of collector; 0: assume a server */
	/*
	 * Where @argfiles and -XX:Flags= / -XX:VMOptionsFile= files are read:
	 * a relative name under CWD, an absolute one under ROOT ("/proc/PID/cwd",
	 * "/proc/PID/root"); NULL: not read.
	 */
	const char *cwd, *root;
};
struct mt_jvm_limits {
	uint64_t ceiling;
	char ceiling_source[128];
	uint64_t chunk_size;   /* from the flags, or Netty 4.1.48's default */
	char chunk_source[64];
	int chunk_given;       /* a valid io.netty.allocator.pageSize or maxOrder was given */
	int64_t page_size, max_order; /* as given; -1: not */
	char allocator_type[16];      /* -Dio.netty.allocator.type; "" not given */
};
/* What a JVM's Netty jars say. */
struct mt_netty {
	int version[3]; /* 4, 1, 48; all 0: not found */
	char artifact[40]; /* the module whose version it is, "netty-buffer" */
};
/*
 * Read the Netty version from the text of a META-INF/io.netty.versions.properties:
 * netty-buffer's (whose allocator it is), else netty-all's, else the first
 * module's.  Returns 0, or -ENOENT when there is none.
 */
int mt_netty_version(const char *text, size_t len, struct mt_netty *out);
/*
 * Netty's pool chunk size for the flags in LIM and the version in V (NULL
 * or version 0: unknown, taken as 4.1.48): pageSize << maxOrder, whose
 * default maxOrder is 11 before 4.1.75 and 9 from then on.  0 when chunk
 * sizes vary: the adaptive allocator (4.2's default, or
 * io.netty.allocator.type=adaptive) or no pool (unpooled).  WHY says so.
 */
uint64_t mt_netty_chunk(const struct mt_jvm_limits *lim, const struct mt_netty *v, char *why,
			size_t size);
/* Read the Netty version from the jar (zip) open at FD; 0 or -errno. */
int mt_netty_jar(int fd, struct mt_netty *out);
/* Whether ARGV0 names a java launcher. */
int mt_jvm_is_java(const char *argv0);
/* Work out the direct-memory ceiling and Netty chunk size from a JVM's flags. */
void mt_jvm_limits(char *const argv[], const struct mt_jvm_env *env, struct mt_jvm_limits *out);

/*
 * HotSpot's attach mechanism (jattach.c).  Asking a JVM makes it start an
 * "Attach Listener" thread and a socket /tmp/.java_pidPID in its own /tmp.
 */
struct mt_jthread {
	pid_t tid; /* the native id, nid=0x..., in the JVM's pid namespace */
	char name[256];
	char state[64];
};
/*
 * 0 when PID is a HotSpot JVM that may be asked; else ERR says why and
 * -ENOEXEC (no JVM) or -EPERM (-Xrs, -XX:+DisableAttachMechanism).
 */
int mt_jattach_check(pid_t pid, char *err, size_t errsize);
/*
 * Run COMMAND ("threaddump", or "jcmd Compiler.perfmap": an attach command
 * and its argument after the first blank) in JVM PID, within about 15 s; *OUT gets the
 * output (the caller frees).  0, or -errno with ERR set: -EAGAIN (stopped,
 * or still starting: ask later), -EPERM (attaching is off), -EPROTO (the
 * command was refused), -ETIMEDOUT, ...
 */
int mt_jattach_run(pid_t pid, const char *command, char **out, char *err, size_t errsize);
/* Parse a thread dump (modified in place) into up to MAX THREADS; returns the count. */
size_t mt_jattach_parse(char *dump, struct mt_jthread *threads, size_t max);

/*
 * Learn the target's Java thread names when it is a HotSpot JVM: when a
 * live thread has no Java name yet (a new thread; one missing from two
 * dumps is left with its comm), read a thread dump, at most one every
 * 5 s, and name every live thread from it.  Blocks up to about 15 s: call
 * it from a thread of its own, never the tracer's.  Returns 1 when names
 * were read, 0 when nothing was due, else -errno with ERR set (see
 * mt_jattach_run; -ENOEXEC: no JVM).  After -EPERM or -EPROTO the JVM is
 * never asked again and threads keep their comm.
 */
int mt_session_java_names(struct mt_session *s, char *err, size_t errsize);
const char *mt_jnames_name(enum mt_jnames st);

/*
 * Ask the target's JVM to write its perf map (jcmd PID Compiler.perfmap,
 * JDK 17 on) when a frame in anonymous memory went unnamed (a query met
 * one, or the tracer stored a new stack with one) and no JVM of the
 * target can be read from its structures (hotspot.c); at most once every
 * 10 s.  Blocks up to about 15 s: call it from a thread of its own, never
 * the tracer's.  Returns 1 when the JVM wrote its map, 0 when nothing was
 * due, else -errno with ERR set (see mt_jattach_run; -ENOEXEC: no JVM).
 * After -EPERM or -EPROTO the JVM is never asked again.
 */
int mt_session_perf_map(struct mt_session *s, char *err, size_t errsize);
const char *mt_perfmap_name(enum mt_perfmap st);

/* The target's exit as an exit code for memtraced: status or 128+signal. */
int mt_exit_code(int wait_status);

/* Queries; any thread. */
void mt_session_status(struct mt_session *s, struct mt_status *out);
/* The target's command line as it is now (exec changes it), NULL-terminated,
 * in one block for the caller to free(); NULL when unknown or out of memory. */
char **mt_session_argv(struct mt_session *s);
/* Orders of mt_session_outstanding(). */
enum mt_order {
	MT_ORDER_ADDRESS,
	MT_ORDER_SIZE, /* longest first, equal lengths by address */
	MT_ORDER_AGE,  /* oldest first (preexisting ones before all), then by address */
};
/*
 * Copy the first MAX outstanding mappings matching F in ORDER into OUT; *N
 * receives how many were copied, *TOTAL how many matched in all.  The
 * session lock is never held for a walk of the whole table: the longest
 * MAX (up to 4096) come from the table's subtree maxima, the rest is read
 * in slices (see session.c for what a slice walk sees of concurrent
 * changes).  0, or -ENOMEM.
 */
int mt_session_outstanding(struct mt_session *s, const struct mt_filter *f, enum mt_order order,
			   struct mt_mapping *out, size_t max, size_t *n, size_t *total);
/* Outstanding figures of one allocating stack. */
struct mt_stack_sum {
	uint32_t id;
	uint64_t count, bytes;
};
/*
 * The outstanding count and bytes of every stack with mappings of F's class
 * (or direct memory, or all when F asks for neither; F's other fields are
 * ignored), unordered, in *OUT for the caller to free; *N stacks,
 * *MAPPINGS mappings in all.  O(stacks), from sums the table keeps.
 */
int mt_session_stacks(struct mt_session *s, const struct mt_filter *f, struct mt_stack_sum **out,
		      size_t *n, uint64_t *mappings);
/*
 * Write the names of stack ID's frames, innermost first, into NAMES (each
 * up to 256 bytes, "function+0x1a (libname.so)" or "[unknown] ..."); names
 * are looked up now, lazily.  Returns the number of frames.
 */
unsigned mt_session_stack(struct mt_session *s, uint32_t id, char (*names)[256], unsigned max);
const char *mt_stacks_name(enum mt_stacks p);
int mt_stacks_from_name(const char *name); /* -1 when unknown */

/*
 * Resident and dirty bytes of [START, START+LEN) in the target, as pmap -X
 * shows them: from /proc/PID/smaps when the range is exactly one kernel
 * mapping; otherwise resident from /proc/PID/pagemap (present, exclusively
 * mapped pages) and dirty -1.  With DIRTY NULL, smaps is not read and
 * resident comes from pagemap alone.
 */
int mt_session_residency(struct mt_session *s, uint64_t start, uint64_t len, int64_t *rss,
			 int64_t *dirty);
/* A timestamp found in bytes (stamps.c). */
struct mt_stamp {
	size_t off;	 /* where it starts */
	unsigned len;	 /* its bytes: 10 or 13 digits, or an 8-byte word */
	int64_t ms;	 /* the time it names, epoch milliseconds */
	const char *how; /* "text, epoch s", "8 bytes LE, epoch ms", ... */
};

/*
 * The timestamps in B[0, N), NOW being the time in epoch seconds: 10- and
 * 13-digit decimal numbers in text, 8-byte little-endian words that read
 * as epoch seconds or milliseconds and not as a pointer or text, from 2010
 * to two years past NOW.  Up to MAX go into OUT in offset order; returns
 * how many were found.
 */
size_t mt_find_stamps(const unsigned char *b, size_t n, int64_t now, struct mt_stamp *out,
		      size_t max);

/* A stretch of a peek not read from the target, at OFF bytes into it. */
struct mt_peek_gap {
	uint64_t off, len;
	const char *why; /* "not resident", "swapped out" or "unreadable" */
};

/*
 * Read LEN bytes of target memory at ADDR into BUF, from the pages the
 * target has resident only: a peek never faults a page in.  The rest reads
 * as zeros and is listed in GAPS (room for LEN / page size + 2 of them),
 * their number in *NGAPS.  The read ends where the target's readable
 * mappings stop being contiguous.  Returns the bytes covered, or -errno
 * (-EFAULT: nothing readable is mapped at ADDR).
 */
ssize_t mt_session_peek(struct mt_session *s, uint64_t addr, void *buf, size_t len,
			struct mt_peek_gap *gaps, size_t *ngaps);
/* The mapping created by event ID (its first piece), into OUT; -ENOENT when none. */
int mt_session_mapping_by_id(struct mt_session *s, uint64_t id, struct mt_mapping *out);

/* Copy up to MAX thread records into OUT; *TOTAL receives how many exist. */
size_t mt_session_threads(struct mt_session *s, struct mt_thread *out, size_t max,
			  size_t *total);
/*
 * Copy up to MAX events with seq > AFTER, oldest first, into OUT.  Returns
 * the count copied; *NEXT receives the seq of the newest event overall.
 */
size_t mt_session_events(struct mt_session *s, uint64_t after, struct mt_event *out,
			 size_t max, uint64_t *newest);
/*
 * The names (as shown, see MT_NAME_MAX) of the threads of events
 * EV[0..N), looked up once for the batch; the caller frees them with
 * mt_names_free().  NULL when out of memory.  mt_names_get() gives the
 * name of TID, or NULL when unknown.
 */
struct mt_names;
struct mt_names *mt_session_names(struct mt_session *s, const struct mt_event *ev, size_t n);
const char *mt_names_get(const struct mt_names *t, pid_t tid);
void mt_names_free(struct mt_names *t);

/*
 * An eventfd that becomes readable when an event is recorded after
 * mt_session_notify_arm() was called, and whenever the target's state
 * changes.  The caller reads it to reset it; the session owns it.
 */
int mt_session_notify_fd(struct mt_session *s);
/* Ask for one wake-up through the notify fd at the next event. */
void mt_session_notify_arm(struct mt_session *s);

/* Syscall table lookups. */
const char *mt_sys_name(unsigned sys);
int mt_sys_from_name(const char *name); /* -1 when unknown */
const char *mt_class_name(enum mt_class c);
int mt_class_from_name(const char *name); /* -1 when unknown */
const char *mt_state_name(enum mt_state st);

/* Print EV in strace's shape into BUF (no newline). Returns the length. */
int mt_event_format(const struct mt_event *ev, char *buf, size_t size);

/* Parse "16M", "8k", "123" into bytes; 0 or -EINVAL / -ERANGE. */
int mt_parse_size(const char *s, uint64_t *out);
/* Parse "10s", "5m", "250ms", "1h" into nanoseconds. */
int mt_parse_duration(const char *s, int64_t *out_ns);
/* Format a byte count as "16.0M" into BUF. */
const char *mt_format_size(uint64_t bytes, char *buf, size_t size);

/* Write S to F escaped for HTML text and quoted attributes (html.c). */
void mt_html_put(FILE *f, const char *s);
/* Frame F as a folded-format (flame graph) frame into OUT[SIZE]: no offsets, no ';'. */
char *mt_folded_frame(const char *f, char *out, size_t size);

/*
 * Protocol objects (proto.c).  Each returns a new JSON object the caller
 * json_decref()s, or NULL when out of memory.
 */
#define MT_PROTOCOL_VERSION 1
/* The "status" answer, also printed by memtraced --summary --json. */
struct json_t *mt_proto_status(struct mt_session *s);
/* One event as the protocol shows it (events, follow streams); THREAD: its thread's name, or NULL. */
struct json_t *mt_proto_event(const struct mt_event *ev, const char *thread);
/* One alert as the protocol shows it (alerts, watch streams). */
struct json_t *mt_proto_alert(const struct mt_alert *a);
/* Prometheus text exposition of the session; the caller frees it. */
char *mt_metrics_text(struct mt_session *s);

/* Argument kinds: the JSON type, and how the CLI reads the value. */
enum mt_arg_kind {
	MT_ARG_COUNT,	/* JSON integer >= 0; CLI: decimal */
	MT_ARG_SIZE,	/* JSON integer bytes; CLI: 16M, 8K */
	MT_ARG_SECONDS, /* JSON number of seconds; CLI: 10s, 5m, 250ms */
	MT_ARG_BOOL,	/* JSON true/false; CLI: a flag */
	MT_ARG_WORD,	/* JSON string, one of values[] when given */
};

struct mt_arg {
	const char *name; /* JSON key; the CLI option is --name with '_' as '-' */
	enum mt_arg_kind kind;
	const char *const *values; /* NULL-terminated, for MT_ARG_WORD */
	const char *help;
};

/* Command flags. */
#define MT_CMD_STREAM 0x1 /* "follow": the answer goes on as a stream */
#define MT_CMD_DAEMON 0x2 /* carried out by the daemon, not by a handler */
#define MT_CMD_ROOT   0x4 /* only root may use it */
#define MT_CMD_WATCH  0x8 /* the answer goes on as a stream of alerts */
#define MT_CMD_AUDIT  0x10 /* every request is logged (it reads target memory) */

struct mt_cmd {
	const char *name;
	const char *summary;
	unsigned flags;
	const struct mt_arg *args; /* terminated by a NULL name */
};

/*
 * Every protocol command, terminated by a NULL name: the schema (cmds.c),
 * which memtracectl reads too.  The daemon's handlers are in proto.c.
 */
extern const struct mt_cmd mt_cmds[];
/* Build the answer to REQ (already checked against the command's args). */
typedef struct json_t *(*mt_handler_fn)(struct mt_session *s, struct json_t *req);
/* The handler of CMD, or NULL for a command the daemon carries out itself (MT_CMD_DAEMON). */
mt_handler_fn mt_proto_handler(const struct mt_cmd *cmd);
/* The command called NAME, or NULL. */
const struct mt_cmd *mt_cmd_find(const char *name);
/* An error answer {"ok":false,"error":{"code":CODE,"message":...}}. */
struct json_t *mt_proto_error(const char *code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Parse and check one request line (without its newline).  On success
 * *CMD and *REQ (the caller decrefs) are set and 0 returned; otherwise an
 * error answer is returned in *ERR and -1.
 */
int mt_proto_parse(const char *line, size_t len, const struct mt_cmd **cmd,
		   struct json_t **req, struct json_t **err);

/* Wall clock now, nanoseconds. */
int64_t mt_now_ns(void);

#endif
