/*
 * internal.h - libtrace's private structures, shared by its modules.
 */
#ifndef INTERNAL_H
#define INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "libtrace.h"
#include "hotspot.h"
#include "maps.h"
#include "timeline.h"
#include "stop.h"

/* Argument shapes, for printing. */
enum arg_fmt {
	ARG_NONE,
	ARG_ADDR,	  /* NULL or 0x... */
	ARG_LEN,	  /* decimal */
	ARG_PROT,	  /* PROT_* */
	ARG_MMAP_FLAGS,	  /* MAP_* */
	ARG_MREMAP_FLAGS, /* MREMAP_* */
	ARG_FD,		  /* signed decimal */
	ARG_OFFSET,	  /* 0 or 0x... */
};

/* S as a JSON string, each byte that is not valid UTF-8 as U+FFFD (cmds.c). */
struct json_t *mt_json_text(const char *s);

struct mt_session;
struct task;

/* One row of the syscall table, indexed by the native syscall number. */
struct sys_ent {
	const char *name;   /* NULL: not traced */
	uint8_t sys;	    /* enum mt_sys */
	uint8_t nargs;
	uint8_t fmt[6];	    /* enum arg_fmt per argument */
	int8_t len_arg;	    /* argument compared with --min-size, or -1 */
	int8_t flags_arg;   /* argument whose MAP_FIXED* bits force a stop, or -1 */
	/*
	 * Take a call's freed range out of the table at its entry, while the
	 * thread is stopped, or NULL.  Then ACCOUNT sees the call's result
	 * even when it failed, to put the range back.
	 */
	void (*enter)(struct mt_session *s, struct task *t, const struct mt_event *ev);
	/* Apply a finished call to the accounting table. */
	void (*account)(struct mt_session *s, struct task *t, const struct mt_event *ev);
};

extern const struct sys_ent sys_table[];
extern const unsigned sys_table_size;
/*
 * The data of our filter's SECCOMP_RET_TRACE: this tag | enum mt_sys.  A
 * seccomp stop without it comes from a filter of the target's own.
 */
#define FILTER_TAG 0x6d00
/*
 * Data of the filter's stop for mseal(2), not an event: a sealed range makes
 * munmap fail with EPERM, so once the target seals anything every munmap is
 * run to its exit stop (see munmap_predictable()).
 */
#define FILTER_SEAL (FILTER_TAG | 0xff)
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

/* The row for enum mt_sys SYS. */
const struct sys_ent *sys_by_id(unsigned sys);
/* The native syscall number of enum mt_sys SYS. */
int sys_nr(unsigned sys);

/* A bounded ring of completed events; the oldest are overwritten. */
struct ring {
	struct mt_event *ev;
	size_t cap;
	uint64_t head; /* events ever pushed == seq of the newest */
};

int ring_init(struct ring *r, size_t cap);
void ring_free(struct ring *r);
/* Append EV, assigning its seq; overwrites the oldest when full. */
void ring_push(struct ring *r, const struct mt_event *ev);
/* The event with sequence number SEQ, or NULL when dropped or not yet pushed. */
const struct mt_event *ring_get(const struct ring *r, uint64_t seq);
/* Events overwritten before anyone could read them. */
static inline uint64_t ring_dropped(const struct ring *r)
{
	return r->head > r->cap ? r->head - r->cap : 0;
}

/*
 * The first sequence number after AFTER that a ring of CAP slots, whose
 * newest is HEAD, still holds (events and alerts both use this numbering).
 */
static inline uint64_t ring_first_after(uint64_t after, uint64_t head, size_t cap)
{
	return head > cap && after < head - cap ? head - cap + 1 : after + 1;
}

/* Per-thread record; kept after the thread exits (its mappings may outlive it). */
struct thread {
	pid_t pid, tid;
	char comm[16];
	/*
	 * The full Java name from the JVM's thread dump (jnames.c), at most
	 * MT_NAME_MAX - 1 bytes, or NULL; under the lock, freed with the record.
	 */
	char *jname;
	unsigned jname_misses; /* dumps (or checks) that did not name it */
	int alive;
	uint64_t mapped_count, mapped_bytes;
	uint64_t unmapped_count, unmapped_bytes;
	struct maps_owner own;
	struct thread *next; /* session's list of every thread */
};

/* Task flags. */
#define TASK_IN_SYSCALL 0x02 /* seccomp stop seen, waiting for the exit stop */
#define TASK_TARGET_MM	0x04 /* shares the target's address space: accounted */
#define TASK_NAMED	0x08 /* comm read */
#define TASK_ORPHAN	0x10 /* stopped, waiting for its parent's clone event */
#define TASK_IN_OTHER	0x20 /* attached: past the entry stop of a non-memory call */

/* A piece of one entry that a pending munmap or mremap took out of the table. */
struct saved_piece {
	struct maps_entry e;	   /* clipped to the call's range */
	uint64_t whole_start, whole_end; /* the entry it was cut from */
};

/* One tracee: a thread of the target or of a descendant. */
struct task {
	pid_t tid, pid;
	unsigned flags;
	struct thread *th;
	struct mt_event pending; /* syscall in progress */
	void *upt;		 /* libunwind-ptrace state, made at the first capture */
	struct saved_piece *saved; /* what the pending call's entry took out of the table */
	size_t nsaved, cap_saved;
	struct timespec entry;	 /* monotonic, at the seccomp stop */
	enum stop_event orphan_ev; /* TASK_ORPHAN: the stop it is held in (group or other) */
};

/*
 * One frame: an offset in an object's file, or (obj 0) an absolute pc, or
 * (obj HS_FRAME_INTERP or HS_FRAME_INTERP_MAKE(its ConstMethod*)) an
 * interpreted Java frame's Method*, or (obj HS_FRAME_NMETHOD_MAKE(id)) a
 * pc in the nmethod of compile id ID.
 */
struct frame {
	uint64_t obj;
	uint64_t off;
};

struct symtab;

#define OBJECT_LOADS 8
#define DIRECT_MARKS 8

/* An ELF object seen mapped executable in the target; never moves once made. */
struct object {
	char *path;
	uint64_t inode;
	int fd;		     /* opened at first sight, kept for lazy symbol lookup */
	struct symtab *syms; /* loaded at query time by symbols.c */
	/* From its program headers, read at first sight: where to unwind from. */
	uint64_t eh_frame_hdr; /* p_vaddr of PT_GNU_EH_FRAME; 0: none */
	unsigned nloads;
	struct {
		uint64_t vaddr, offset, filesz;
	} loads[OBJECT_LOADS]; /* the first PT_LOAD segments */
	/* Where the direct-memory path runs in it, as file offsets (direct.c). */
	unsigned nmarks;
	struct direct_mark {
		uint64_t lo, hi; /* [lo, hi) */
		int from_java;	 /* counts only when called from code outside any object */
	} marks[DIRECT_MARKS];
};

/* One executable region of the target, from the snapshot. */
struct region {
	uint64_t start, end, offset;
	uint32_t obj;
	uint64_t eh_frame_hdr; /* the object's .eh_frame_hdr in the target; 0: unknown */
};

struct stack {
	uint64_t hash;
	unsigned n;
	struct frame frames[];
};

struct stack_table {
	struct object **objects; /* fixed size, index 0 unused */
	uint32_t nobjects;
	struct region *regions;	 /* sorted snapshot of executable regions */
	size_t nregions;
	int dirty;		 /* an executable mapping changed since the snapshot */
	unsigned long gen;	 /* snapshots taken */
	struct stack **stacks;	 /* index = id; 0 unused */
	uint32_t nstacks, cap_stacks;
	uint32_t *hash;		 /* open addressing over ids */
	size_t hash_cap;
};

/* Stacks (stacks.c); tracer thread with the lock held, or queries under it. */
void stack_refresh(struct mt_session *s, pid_t pid);
uint32_t stack_intern(struct mt_session *s, const uint64_t *pcs, const uint64_t *ids, unsigned n);
unsigned stack_get(const struct mt_session *s, uint32_t id, struct frame *out, unsigned max);
void stack_free(struct stack_table *st);

/* Symbols (symbols.c); query side only. */
void sym_free(struct symtab *t);
/* Name frame F (FIRST: the innermost, whose pc is not a return address) into BUF. */
void sym_frame(struct mt_session *s, const struct frame *f, int first, char *buf, size_t size);
/* Find PC in the perf map F ("START SIZE name" lines); its name into BUF.  0 when found. */
int sym_perf_map_scan(FILE *f, uint64_t pc, char *buf, size_t size);
/* Note that a frame in anonymous memory went unnamed: the JVM may be asked for its perf map. */
void perf_map_want(struct mt_session *s);

/* The snapshot region holding PC, or NULL; tracer thread. */
const struct region *stack_region(const struct mt_session *s, uint64_t pc);

/*
 * Unwinding (unwind.c): the native stack of stopped task T, innermost
 * first, with IDS[i] what tells the Java code of PCS[i] from code later
 * put in its place (0: nothing; see hs_walk()).  With PROBE, stop after that many frames unless they
 * already show the direct-memory path (stack_is_direct()).
 */
struct task;
unsigned unwind_capture(struct mt_session *s, struct task *t, uint64_t *pcs, uint64_t *ids,
			unsigned max, unsigned probe);

/* Direct memory (direct.c). */
/* Find the direct-memory path's functions in libjvm object O (tracer thread, lock held). */
void direct_object(struct mt_session *s, struct object *o);
/* Whether the N pcs (innermost first) pass through the direct-memory path. */
int stack_is_direct(const struct mt_session *s, const uint64_t *pcs, unsigned n);
/* A direct-memory mmap of LEN bytes was made: learn the chunk size from it; lock held. */
void direct_seen(struct mt_session *s, uint64_t len);
/* Whether O has a mark that makes a stack through it direct memory. */
int object_has_direct(const struct object *o);
/* Direct memory that may be out of sight in malloc arenas (mt_status.hidden_bytes). */
uint64_t direct_hidden(const struct mt_session *s);
/* Work out the chunk size in force from what is known now; lock held. */
void direct_update_chunk(struct mt_session *s);
/* Read Netty's version from the jars the target has open; lock not held. */
void direct_scan_jars(struct mt_session *s);
/* Frames a probe unwinds before giving up on the direct-memory path. */
#define DIRECT_PROBE 10
void unwind_task_free(struct task *t);
/* Forget what libunwind learned of the target's code: an exec replaced it. */
void unwind_flush(struct mt_session *s);
/* Release S's libunwind address space and remembered walks. */
void unwind_free(struct mt_session *s);

/*
 * The trend of the weighed bytes (trend.c): pure functions of a series of
 * samples, so they are tested without a session.
 */
struct trend_fit {
	int steady;	   /* the samples grow steadily (see trend.c) */
	double rate;	   /* bytes per second: the slope over the trend */
	double duration_s; /* how long the trend has lasted */
	double growth;	   /* rate * duration */
	double r2;	   /* goodness of the fit */
	double eta_s;	   /* seconds to the ceiling at RATE; < 0: none */
};

struct trend_state {
	enum mt_level level;	  /* the trend alert in force */
	double hold_s;		  /* how long the rule must fail before the level comes down */
	double peak, growth;	  /* highest bytes and last growth while the level held */
	int64_t failing_since_ns; /* when the rule stopped holding the level up; 0: it holds */
};

/* Fit the trend of V[0..N), oldest first, toward CEILING; 0 or -ENOMEM. */
int trend_fit(const struct mt_sample *v, size_t n, uint64_t ceiling, struct trend_fit *out);
/* Move ST's level after fit F at BYTES and NOW_NS, under HORIZON[level] seconds (0: off). */
enum mt_level trend_step(struct trend_state *st, const struct trend_fit *f, const double horizon[],
			 uint64_t bytes, int64_t now_ns);
/* "+4.3 MiB/s for 40 s, ceiling in 52 s", or "no steady growth". */
void trend_reason(const struct trend_fit *f, char *buf, size_t size);

/* Allocation sites for leak suspects (sites.c); guarded by the session lock. */
#define SITE_MAX       4096
#define SITE_HASH      (2 * SITE_MAX)
#define SITE_POINTS    32
#define SITE_PERIOD_NS 2000000000ll /* a pass over the table every 2 s */
#define SITE_SLICE     2048	    /* entries a pass reads per hold of the lock */
#define SITE_GAP_NS    50000	    /* the lock let go between slices */

struct site {
	uint32_t stack_id;
	pid_t tid;
	int64_t first_ns;	  /* first seen */
	int64_t oldest_ns;	  /* creation of its oldest live mapping; 0: none */
	uint64_t bytes, count;	  /* outstanding at the end of the last pass */
	uint64_t prev;		  /* bytes at the pass before */
	uint64_t grown_bytes;	  /* sum of the increases from pass to pass */
	uint64_t freed_bytes;	  /* sum of the decreases: at least what it freed */
	int64_t step_ns;	  /* spacing of the points */
	int64_t last_point_ns;
	unsigned npoints;
	uint64_t points[SITE_POINTS]; /* outstanding bytes, step_ns apart, oldest first */
	/* What the pass under way has counted so far (see sites.c). */
	uint64_t acc_bytes, acc_count;
	int64_t acc_oldest_ns, acc_first_ns;
};

struct site_table {
	struct site *v; /* SITE_MAX, allocated at the first pass */
	size_t n;	/* sites followed, the ones a pass met first included */
	size_t shown;	/* v[0..shown) have been through a whole pass */
	uint32_t *hash; /* SITE_HASH slots of index + 1 */
	uint64_t untracked_bytes; /* outstanding bytes of sites not followed (table full) */
	int64_t last_ns, next_ns; /* the end of the last pass, and when the next is due */
	/* The pass under way, if any (then it is the table's watcher). */
	uint64_t cursor;	 /* entries starting below it have been read */
	int64_t pass_ns;	 /* its start */
	uint64_t acc_untracked;
};

/*
 * A pass: sites_begin() makes T the watcher of M, sites_step() reads up to
 * BUDGET more entries and returns 1 while some are left, sites_end() folds
 * what was counted into each site's history at NOW; the lock is held for
 * each call and may be let go between them.  sites_sample() begins a pass
 * when one is due at NOW and none is under way (0 or -ENOMEM);
 * sites_advance() reads its next SITE_SLICE entries in one hold of the lock
 * and ends it after the last, 1 while it goes on.
 */
int sites_begin(struct site_table *t, struct maps *m, int64_t now);
int sites_step(struct site_table *t, const struct maps *m, size_t budget);
void sites_end(struct site_table *t, struct maps *m, int64_t now);
int sites_sample(struct mt_session *s, int64_t now);
int sites_advance(struct mt_session *s);
void sites_free(struct site_table *t);
/* Judge and rank the N sites V at NOW into OUT, most suspect first; pure. */
void sites_rank(const struct site *v, size_t n, int64_t now, struct mt_suspect *out);

#define ALERT_RING	256
#define DIRECT_SIZES	8
#define HISTORY_SAMPLES 3600 /* an hour at one sample a second */

/* Tasks by tid: open addressing, sized to the tracees (task.c). */
struct task_table {
	struct task **slot;
	size_t cap, n, tombs;
};

struct mt_session {
	struct mt_config cfg;
	pthread_mutex_t lock; /* guards everything queries read */

	/* Tracer-thread state. */
	pthread_t tracer;
	pid_t tracer_tid;
	timer_t wake_timer;
	int have_timer;
	struct task_table tasks; /* task.c */
	uint64_t ntasks;	 /* tasks in it */
	atomic_int stop_requested; /* 0, or the grace in ms before SIGKILL */
	atomic_int handover_requested; /* a second memtraced asks a keeper for the target */
	int handing;		       /* keeper: the target's threads are being left in a group-stop */
	int64_t handing_deadline_ns;   /* keeper: by then a new tracer must hold them (mono_ns) */
	pid_t handing_to_guard;	       /* a stop's handover to our guard (that pid), or 0 */
	int guard_standing_down;       /* that handover called off: wait for the guard to let go */
	int64_t stop_deadline_ns; /* monotonic; SIGKILL after it */
	int stopping;

	/* Target. */
	pid_t pid;
	int attached; /* attach mode (attach.c) */
	int attach_filter; /* attached, our seccomp filter in the target: seccomp stops, no detach */
	int keeping;	   /* attach_filter and a stop came: resume every stop until the target exits */
	char attach_note[200]; /* why the filter is not in force; guarded by lock */
	pid_t guard;		/* filter mode: the guard process (guard.c), or 0 */
	uint64_t max_map_count; /* vm.max_map_count, for munmap_predictable() */
	int sealing;		/* the target has called mseal(2) */
	char **argv;
	enum mt_state state;
	int exit_status;
	int64_t start_ns, end_ns;
	uid_t target_uid; /* owner of /proc/PID at the last exec or attach */
	uint64_t brk_start, brk_end; /* 0 until known */

	/* Guarded by lock. */
	struct ring ring;
	struct maps maps;
	struct thread *threads;
	uint64_t threads_seen, threads_alive;
	uint64_t by_sys[MT_SYS_COUNT];
	uint64_t child_events;
	uint64_t seeded_count, seeded_bytes;
	int64_t attach_held_ns, seed_ns; /* the attach's hold on the target, its seeding */

	int notify_fd;
	atomic_int notify_armed;

	/* Ceiling, alerts and growth (alert.c); guarded by lock. */
	uint64_t ceiling; /* in force: configured, or from the JVM's flags */
	char ceiling_source[128], chunk_source[128];
	int threshold_pinned;
	enum mt_level level;
	uint64_t on[MT_LEVEL_CRIT + 1], off[MT_LEVEL_CRIT + 1]; /* thresholds in bytes */
	struct mt_alert alerts[ALERT_RING];
	uint64_t alert_seq;
	struct mt_sample *hist; /* HISTORY_SAMPLES */
	uint64_t hist_n;
	struct mt_sample hist_first;
	struct timeline *timeline;    /* the whole run, downsampled (timeline.c) */
	struct trend_state trend;     /* the trend level, beside the percentage one */
	struct trend_fit trend_fit;   /* the last sample's fit */
	unsigned trend_alerted;	      /* bit L: a trend alert of level L was raised, not cleared */
	struct site_table sites;      /* allocation sites, for suspects */

	/*
	 * Java thread names (jnames.c).  next_ns is the names thread's own;
	 * the rest is guarded by lock.
	 */
	int64_t jn_next_ns; /* monotonic: no dump before this */
	enum mt_jnames jn_state;
	uint64_t jn_dumps;
	char jn_note[256];

	/*
	 * The perf map asked of the JVM (perfmap.c).  pm_want is set by any
	 * thread (atomic); pm_next_ns is the names thread's own; the rest is
	 * guarded by lock.
	 */
	int pm_want;
	int64_t pm_next_ns; /* monotonic: no request before this */
	enum mt_perfmap pm_state;
	uint64_t pm_requests;
	char pm_note[256];

	struct stack_table stacks;
	void *unw_as; /* libunwind address space, tracer thread only */
	unsigned long unw_gen; /* exec flushes of unw_as (unwind.c) */
	struct unwind_state *unw; /* walks and pages remembered, tracer thread only (unwind.c) */
	int pagemap_fd; /* the target's /proc/PID/pagemap (tmem.c), tracer thread only */
	struct hs_target *hs; /* JVMs met, newest first (hotspot.c); the list under lock */

	/* Direct memory (direct.c); guarded by lock. */
	int jvm;	  /* the target is a java launcher: probe its mmaps' stacks */
	int direct_known; /* a libjvm with Unsafe_AllocateMemory0 is mapped */
	struct {
		uint64_t len, count;
	} direct_sizes[DIRECT_SIZES]; /* direct mmap lengths seen, most common first */
	uint64_t direct_mmaps;	       /* direct mmaps seen in all */
	struct mt_jvm_limits lim;      /* what the JVM's flags said */
	struct mt_netty netty;	       /* what its jars say; version[0] 0: not found */
	int64_t jar_scan_ns;	       /* monotonic time of the last look at its jars */
	uint32_t jar_seen[64];	       /* inodes of jars already read (low 32 bits) */
	unsigned njar_seen;
};

/* TH's name as shown, Java's or comm, into BUF[MT_NAME_MAX]; lock held (jnames.c). */
void thread_name(const struct thread *th, char *buf);

/*
 * Whether alerts weigh direct memory (every mapping made on the
 * Unsafe.allocateMemory path) rather than chunk-sized mappings: the target
 * runs a libjvm whose direct-memory path is known, and stacks are on.
 */
static inline int direct_weighing(const struct mt_session *s)
{
	return s->direct_known && s->cfg.stacks != MT_STACKS_NONE;
}

/* Alerts (alert.c); lock held. */
void alert_configure(struct mt_session *s);
/* Returns 1 when the change made an alert. */
int alert_check(struct mt_session *s);

/* Monotonic clock in nanoseconds, for deadlines (util.c). */
int64_t mono_ns(void);

/* /proc readers (proc.c). */
ssize_t proc_read(pid_t pid, const char *name, char *buf, size_t size);
pid_t proc_mm_pid(pid_t pid);
int proc_status_field(pid_t pid, const char *name, char *buf, size_t size);
/* Field NAME of /proc/PID/status as a number in BASE; DFL when absent. */
unsigned long long proc_status_number(pid_t pid, const char *name, int base,
				      unsigned long long dfl);
/* The same from the open status file F. */
int proc_status_scan(FILE *f, const char *name, char *buf, size_t size);
int proc_task_gone(pid_t tid);
/* Whether PRED(TID, ARG) holds for every live thread of PID; GONE when PID cannot be read. */
int proc_tasks_all(pid_t pid, int (*pred)(pid_t tid, void *arg), void *arg, int gone);
/* Whether every live thread of PID has a tracer (1 when PID is gone). */
int proc_all_traced(pid_t pid);
const char *proc_env_get(const char *env, size_t len, const char *name);
uint64_t proc_cgroup_limit(pid_t pid);

#define DEFAULT_CHUNK (16ull << 20)

/* Learn what the target is and seed the table (session.c). */
void session_reset(struct mt_session *s, pid_t pid);

/* The task table (task.c). */
struct task *task_get(struct mt_session *s, pid_t tid);
struct task *task_new(struct mt_session *s, pid_t tid, pid_t pid, unsigned flags);
void task_free(struct mt_session *s, struct task *t);
/* Move T to TID; the task TID had leaves the table and is returned, or NULL. */
struct task *task_move(struct mt_session *s, struct task *t, pid_t tid);
/* FN for every task; FN may free tasks, not create them. */
void task_foreach(struct mt_session *s, void (*fn)(struct mt_session *, struct task *, void *),
		  void *arg);
void task_table_free(struct mt_session *s);
/* The exec event of an unknown TID: the task of the thread that exec'd, moved (session.c). */
struct task *task_exec_moved(struct mt_session *s, pid_t tid);
/* Resume T from its stop, delivering SIG. */
void task_resume(struct mt_session *s, struct task *t, int sig);
/* Dispatch one waitpid() result. */
void session_handle(struct mt_session *s, pid_t tid, int status);

/* Fork the guard of PID running program EXE (guard.c); its pid or -errno. */
pid_t guard_start(const char *exe, pid_t pid);
/* The guard tracing PID, or 0; have it leave PID stopped for us (guard.c). */
pid_t guard_of(pid_t pid, int *keeper);
/* Tell the guard of a new process memtraced traces (guard.c). */
void guard_tell_fork(pid_t guard, pid_t child);
/* Tell GUARD to take PID now, in a handover begun by a stop (guard.c). */
int guard_take_now(pid_t guard);
/* Call that handover off: the guard lets go of what it took (guard.c). */
int guard_stand_down(pid_t guard);
int guard_handover(pid_t guard, pid_t pid, int timeout_ms);

/* Detach from every task, leaving each as it was (session.c). */
void session_detach_all(struct mt_session *s);
/* A keeper's handover found no taker: seize the target back (attach.c). */
int attach_retake(struct mt_session *s);

/* Accounting handlers (account.c): at entry (munmap, mremap), at exit. */
void account_munmap_enter(struct mt_session *s, struct task *t, const struct mt_event *ev);
void account_mremap_enter(struct mt_session *s, struct task *t, const struct mt_event *ev);
/* Forget what a pending call saved (its task died or the call was dropped). */
void account_drop_saved(struct task *t);
void account_mmap(struct mt_session *s, struct task *t, const struct mt_event *ev);
void account_munmap(struct mt_session *s, struct task *t, const struct mt_event *ev);
void account_mremap(struct mt_session *s, struct task *t, const struct mt_event *ev);
void account_mprotect(struct mt_session *s, struct task *t, const struct mt_event *ev);
void account_brk(struct mt_session *s, struct task *t, const struct mt_event *ev);
/* Reset the table to what /proc/PID/maps shows, as preexisting mappings. */
int account_seed(struct mt_session *s, pid_t pid);
/*
 * The checks of seeding on bytes read from the target: whether the 32 bytes
 * H at A start a glibc arena heap in a read-write region ending at RW_END;
 * the length of the glibc mmapped block whose 16-byte header H sits at
 * ADDR, below LIMIT, or 0.
 */
int account_glibc_heap(const uint64_t h[4], uint64_t a, uint64_t rw_end);
uint64_t account_glibc_block(const uint64_t h[2], uint64_t addr, uint64_t limit);

/*
 * Target memory, read only where the target has it resident (tmem.c): a
 * read must never fault a page in.  PM is the target's /proc/PID/pagemap.
 */
enum { TMEM_ABSENT, TMEM_PRESENT, TMEM_SWAPPED, TMEM_UNREADABLE };
typedef int (*tmem_run_fn)(uint64_t lo, uint64_t hi, unsigned state, void *arg);
typedef void (*tmem_gap_fn)(uint64_t off, uint64_t len, unsigned state, void *arg);
int tmem_open(pid_t pid);
int tmem_scan(int pm, uint64_t start, uint64_t end, tmem_run_fn fn, void *arg);
ssize_t tmem_read(int pm, pid_t pid, uint64_t addr, void *buf, size_t len, tmem_gap_fn gap,
		  void *arg);
int tmem_page_resident(int pm, uint64_t addr);

/* Build the seccomp program for CFG (filter.c). The caller frees *PROG. */
struct sock_fprog;
int filter_build(const struct mt_config *cfg, struct sock_fprog *prog);

/* Page size, rounding. */
extern uint64_t page_size;
static inline uint64_t page_up(uint64_t n)
{
	return (n + page_size - 1) & ~(page_size - 1);
}

#endif
