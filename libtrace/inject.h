/*
 * inject.h - making a stopped thread of the target run system calls for us.
 *
 * The pure parts (register arithmetic, the restart rules, where the borrowed
 * memory lies) are apart from the ptrace driver so that the unit tests can
 * check them without a tracee.
 */
#ifndef INJECT_H
#define INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* The kernel's restart codes (include/linux/errno.h), never seen by programs. */
#define ERESTARTSYS	       512
#define ERESTARTNOINTR	       513
#define ERESTARTNOHAND	       514
#define ERESTART_RESTARTBLOCK  516

#define INJECT_RED_ZONE 128 /* the x86-64 ABI's: below rsp, still the function's */

/* How a thread stands at a stop, from its registers. */
enum inject_at {
	INJECT_USER,	/* in user code, not in a system call */
	INJECT_SYSCALL, /* in a system call that has a result (or has not run yet) */
	INJECT_RESTART, /* in a call the kernel will restart (rax is -ERESTART*) */
};

/* Where R stands; see enum inject_at. */
enum inject_at inject_where(const struct user_regs_struct *r);

/*
 * The registers that make a thread whose registers were SAVED execute the
 * `syscall` instruction at SC with number NR and ARGS.  orig_rax is -1, so
 * the kernel applies no restart rule to these registers on the way out.
 */
void inject_call_regs(const struct user_regs_struct *saved, uint64_t sc, long nr,
		      const uint64_t args[6], struct user_regs_struct *out);

/*
 * A thread our PTRACE_INTERRUPT broke out of epoll_wait, epoll_pwait or
 * epoll_pwait2 with no timeout: the kernel ends those calls with -EINTR,
 * not a restart code, even when no signal is delivered.  Turn R into the
 * restart the program would have had without us (rip back over `syscall`,
 * rax = the call's number) and return 1; any other R is left and 0 returned.
 * The caller checks that no signal is pending, which would deserve EINTR.
 */
int inject_undo_eintr(struct user_regs_struct *r);

/*
 * At a stop of TID with STATUS: when it is our interrupt (or, OUR_GROUP,
 * the group-stop of a handover) and it broke an epoll wait without timeout
 * off with EINTR, make the wait restart (inject_undo_eintr()), unless a
 * signal is pending that the program would have had the EINTR for.
 */
void inject_restart_eintr(pid_t tid, int status, int our_group);

/*
 * The start of LEN bytes the target's stack can lend: below the red zone
 * under RSP, 16-byte aligned.  0 when that would wrap.
 */
uint64_t inject_scratch(uint64_t rsp, size_t len);

/*
 * Lay out a BPF program of LEN instructions (INSNS, 8 bytes each) and the
 * struct sock_fprog that points at it, as they must lie at AT in the
 * target: the instructions first, then the 16-byte struct.  Writes at most
 * SIZE bytes to BUF; returns the bytes needed and *FPROG_AT, the struct's
 * address in the target.
 */
size_t inject_fprog_image(const void *insns, unsigned short len, uint64_t at, void *buf,
			  size_t size, uint64_t *fprog_at);

/* Whether the 2 bytes B are x86-64's `syscall` (0f 05). */
static inline int inject_is_syscall_insn(const unsigned char b[2])
{
	return b[0] == 0x0f && b[1] == 0x05;
}

/* A thread borrowed for injection; see inject.c. */
struct inject {
	pid_t tid;
	struct user_regs_struct saved; /* at the stop it was borrowed at */
	uint64_t sc;		       /* address of a `syscall` instruction in the target */
	int status;		       /* its last stop, when given back early (see inject_call) */
	int given_back;		       /* 1: resumed (signal) or gone; do not touch it again */
	int gone;		       /* it exited or was killed: in->status says how */
	uint32_t seccomp_data;	       /* ret_data of a seccomp stop in the last call */
	int seccomp_stopped;	       /* the last call made a seccomp stop */
	void *borrowed;		       /* the target's bytes under what we lent it */
	uint64_t borrow_at;
	size_t borrow_len;
};

/* Find a `syscall` instruction for thread TID stopped with registers R. */
int inject_find_syscall(int pm, pid_t tid, const struct user_regs_struct *r, uint64_t *sc);
/* Borrow thread TID, stopped in the signal code, to run calls at SC. */
int inject_begin(struct inject *in, pid_t tid, uint64_t sc);
/* Write LEN bytes of DATA at AT (see inject_scratch()), keeping what was there. */
int inject_borrow(struct inject *in, int pm, const void *data, size_t len, uint64_t at);
/* Put the bytes inject_borrow() covered back. */
int inject_unborrow(struct inject *in);
/* Run call NR with ARGS in the borrowed thread; the result in *RET. */
int inject_call(struct inject *in, long nr, const uint64_t args[6], long *ret);
/* Give the thread back as it was, stopped in the signal code (in->status). */
int inject_end(struct inject *in);

#endif
