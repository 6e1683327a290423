/*
 * inject.c - making a stopped thread of the target run system calls for us.
 *
 * Used by attach (attach.c) to install memtrace's seccomp filter from inside
 * the target.  The thread is borrowed at a stop inside the kernel's signal
 * code (a PTRACE_EVENT_STOP after PTRACE_INTERRUPT): there the kernel has
 * not yet applied its restart rule to a blocking call the interrupt broke
 * off (rax -ERESTARTSYS and kin, orig_rax the call's number).
 *
 * Each call: registers set to run the `syscall` instruction at in->sc with
 * the call's number and arguments, orig_rax -1 (no restart rule applies to
 * them), then PTRACE_SYSCALL to its entry stop and again to its exit stop,
 * where rax is the result.  The `syscall` instruction is the one the thread
 * stopped after (rip - 2) when it was in a call, or one in the vDSO.
 *
 * Giving the thread back (inject_end): PTRACE_INTERRUPT, then PTRACE_CONT
 * from the last exit stop.  The pending interrupt brings the thread into the
 * signal code again before it reaches user space, and at that stop its
 * saved registers are put back unchanged: the kernel then restarts the
 * broken-off call itself, or delivers a signal that came meanwhile with
 * the same registers, exactly as it would have without us.
 *
 * A signal-delivery-stop while borrowed is the same place in the kernel:
 * memory and registers are put back and the signal delivered; the
 * injection is over (given_back).  Memory is borrowed below the thread's
 * red zone only where pagemap shows pages present and exclusively the
 * target's, so writing them allocates nothing; the bytes are put back
 * before the thread runs its own code again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject.h"
#include "internal.h"
#include "procmaps.h"

#ifndef __NR_epoll_pwait2
#define __NR_epoll_pwait2 441
#endif

#define PM_PRESENT   (1ULL << 63)
#define PM_EXCLUSIVE (1ULL << 56)

/* Where R stands; see enum inject_at. */
enum inject_at inject_where(const struct user_regs_struct *r)
{
	long rax = (long)r->rax;

	if ((long)r->orig_rax < 0)
		return INJECT_USER;
	if (rax == -ERESTARTSYS || rax == -ERESTARTNOINTR || rax == -ERESTARTNOHAND ||
	    rax == -ERESTART_RESTARTBLOCK)
		return INJECT_RESTART;
	return INJECT_SYSCALL;
}

/* Registers to run call NR with ARGS at SC; see inject.h. */
void inject_call_regs(const struct user_regs_struct *saved, uint64_t sc, long nr,
		      const uint64_t args[6], struct user_regs_struct *out)
{
	*out = *saved;
	out->rip = sc;
	out->rax = (unsigned long long)nr;
	out->orig_rax = (unsigned long long)-1L;
	out->rdi = args[0];
	out->rsi = args[1];
	out->rdx = args[2];
	out->r10 = args[3];
	out->r8 = args[4];
	out->r9 = args[5];
}

/* An epoll wait without timeout our interrupt ended with EINTR, restarted; see inject.h. */
int inject_undo_eintr(struct user_regs_struct *r)
{
	long nr = (long)r->orig_rax;
	int forever;

	if ((long)r->rax != -EINTR || r->rip < 2)
		return 0;
	if (nr == __NR_epoll_wait || nr == __NR_epoll_pwait)
		forever = (int)r->r10 < 0; /* the timeout, an int: negative waits for ever */
	else if (nr == __NR_epoll_pwait2)
		forever = r->r10 == 0; /* no timespec: for ever */
	else
		return 0;
	if (!forever)
		return 0;
	r->rax = r->orig_rax;
	r->rip -= 2;
	return 1;
}

/* The handover's own stop and continue (guard.c): no EINTR is owed for them. */
#define HANDOVER_SIGNALS ((1ULL << (SIGSTOP - 1)) | (1ULL << (SIGCONT - 1)))

/* Whether thread TID has a signal pending that it does not block, IGNORE aside. */
static int signal_pending(pid_t tid, unsigned long long ignore)
{
	unsigned long long blk = proc_status_number(tid, "SigBlk:", 16, 0) | ignore;

	return (proc_status_number(tid, "SigPnd:", 16, ~0ULL) & ~blk) ||
	       (proc_status_number(tid, "ShdPnd:", 16, ~0ULL) & ~blk);
}

/*
 * At a stop of TID with STATUS: when it is our interrupt (or, OUR_GROUP,
 * the group-stop of a handover) and it broke an epoll wait off with EINTR
 * the program would not have had, make the wait restart instead
 * (inject_undo_eintr()).  At the attach and at the detach.
 */
void inject_restart_eintr(pid_t tid, int status, int our_group)
{
	enum stop_event ev = stop_classify(status);
	struct user_regs_struct r;

	if ((ev != STOP_INTERRUPT && !(our_group && ev == STOP_GROUP)) ||
	    ptrace(PTRACE_GETREGS, tid, 0, &r) < 0 || !inject_undo_eintr(&r) ||
	    signal_pending(tid, our_group ? HANDOVER_SIGNALS : 0))
		return;
	ptrace(PTRACE_SETREGS, tid, 0, &r);
}

/* Scratch below the red zone; see inject.h. */
uint64_t inject_scratch(uint64_t rsp, size_t len)
{
	uint64_t need = INJECT_RED_ZONE + (uint64_t)len + 15;

	if (rsp < need)
		return 0;
	return (rsp - INJECT_RED_ZONE - len) & ~15ULL;
}

/* The program and its sock_fprog as they lie at AT; see inject.h. */
size_t inject_fprog_image(const void *insns, unsigned short len, uint64_t at, void *buf,
			  size_t size, uint64_t *fprog_at)
{
	size_t code = (size_t)len * 8, need = code + 16;
	unsigned char *b = buf;

	*fprog_at = at + code;
	if (size < need)
		return need;
	memcpy(b, insns, code);
	/* struct sock_fprog: unsigned short len, 6 bytes of padding, the pointer. */
	memset(b + code, 0, 16);
	memcpy(b + code, &len, sizeof(len));
	memcpy(b + code + 8, &at, sizeof(at));
	return need;
}

/* Whether every page of [ADDR, ADDR+LEN) is present and the target's alone. */
static int pages_exclusive(int pm, uint64_t addr, size_t len)
{
	for (uint64_t p = addr & ~(page_size - 1); p < addr + len; p += page_size) {
		uint64_t e;

		if (pread(pm, &e, 8, (off_t)(p / page_size * 8)) != 8 ||
		    (e & (PM_PRESENT | PM_EXCLUSIVE)) != (PM_PRESENT | PM_EXCLUSIVE))
			return 0;
	}
	return 1;
}

/* Count a stretch tmem_read could not read. */
static void count_gap(uint64_t off, uint64_t len, unsigned state, void *arg)
{
	(void)off;
	(void)len;
	(void)state;
	(*(int *)arg)++;
}

/* Read LEN resident bytes at ADDR of PID; 0, or -EFAULT when any is not resident. */
static int read_resident(int pm, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	int gaps = 0;

	if (tmem_read(pm, pid, addr, buf, len, count_gap, &gaps) != (ssize_t)len || gaps)
		return -EFAULT;
	return 0;
}

/* Write LEN bytes at ADDR of PID; 0 or -errno. */
static int write_mem(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = {(void *)buf, len}, remote = {(void *)addr, len};
	ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

struct vdso_find {
	uint64_t lo, hi;
};

/* Note the [vdso] region. */
static int find_vdso(const struct procmaps_region *r, void *arg)
{
	struct vdso_find *v = arg;

	if (!strcmp(r->path, "[vdso]") && (r->prot & PROT_EXEC)) {
		v->lo = r->start;
		v->hi = r->end;
		return 1;
	}
	return 0;
}

/*
 * Find a `syscall` instruction for thread TID stopped with registers R:
 * the one it stopped after when it is in a call, else one in the vDSO.
 */
int inject_find_syscall(int pm, pid_t tid, const struct user_regs_struct *r, uint64_t *sc)
{
	unsigned char b[8192];
	struct vdso_find v = {0, 0};

	if (inject_where(r) != INJECT_USER && r->rip >= 2 &&
	    read_resident(pm, tid, r->rip - 2, b, 2) == 0 && inject_is_syscall_insn(b)) {
		*sc = r->rip - 2;
		return 0;
	}
	/*
	 * Read directly, not through tmem.c: the vDSO's pages are the kernel's
	 * own, shared by every process, so reading them adds nothing to the
	 * target (and pagemap does not list them as present).
	 */
	if (procmaps_read(tid, find_vdso, &v) < 0 || !v.lo || v.hi - v.lo > sizeof(b))
		return -ENOENT;
	{
		struct iovec local = {b, v.hi - v.lo}, remote = {(void *)v.lo, v.hi - v.lo};

		if (process_vm_readv(tid, &local, 1, &remote, 1, 0) != (ssize_t)(v.hi - v.lo))
			return -ENOENT;
	}
	for (uint64_t i = 0; i + 1 < v.hi - v.lo; i++)
		if (inject_is_syscall_insn(b + i)) {
			*sc = v.lo + i;
			return 0;
		}
	return -ENOENT;
}

/* Borrow thread TID, stopped in the signal code, to run calls at SC. */
int inject_begin(struct inject *in, pid_t tid, uint64_t sc)
{
	memset(in, 0, sizeof(*in));
	in->tid = tid;
	in->sc = sc;
	if (ptrace(PTRACE_GETREGS, tid, 0, &in->saved) < 0)
		return -errno;
	return 0;
}

/*
 * Lend the target LEN bytes of DATA below the borrowed thread's red zone;
 * their address in *AT.  The original bytes are kept for inject_unborrow().
 */
int inject_borrow(struct inject *in, int pm, const void *data, size_t len, uint64_t at)
{
	int err;

	if (!at || !pages_exclusive(pm, at, len))
		return -EFAULT;
	if (!(in->borrowed = malloc(len)))
		return -ENOMEM;
	if ((err = read_resident(pm, in->tid, at, in->borrowed, len)) < 0 ||
	    (err = write_mem(in->tid, at, data, len)) < 0) {
		free(in->borrowed);
		in->borrowed = NULL;
		return err;
	}
	in->borrow_at = at;
	in->borrow_len = len;
	return 0;
}

/* Put the borrowed bytes back; 0 or -errno. */
int inject_unborrow(struct inject *in)
{
	int err;

	if (!in->borrowed)
		return 0;
	err = write_mem(in->tid, in->borrow_at, in->borrowed, in->borrow_len);
	free(in->borrowed);
	in->borrowed = NULL;
	return err;
}

/*
 * At a stop inside the signal code with signal SIG: memory and registers
 * back, the signal delivered; the thread is no longer ours to use.
 */
static void give_back(struct inject *in, int sig)
{
	inject_unborrow(in);
	ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved);
	ptrace(PTRACE_CONT, in->tid, 0, sig);
	in->given_back = 1;
}

/* Wait for the borrowed thread's next stop; -ESRCH when it is gone (status kept). */
static int wait_stop(struct inject *in, int *status)
{
	for (;;) {
		pid_t r = waitpid(in->tid, status, __WALL);

		if (r == in->tid)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		in->given_back = in->gone = 1;
		in->status = 0;
		return -ESRCH;
	}
	if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
		in->given_back = in->gone = 1;
		in->status = *status;
		return -ESRCH;
	}
	return 0;
}

/*
 * Run call NR with ARGS in the borrowed thread; its result (a -errno too)
 * in *RET.  Returns 0, -ESRCH when the thread died (in->status says how),
 * -EINTR when a signal came first and was delivered (the call may or may
 * not have run), or another -errno from ptrace.
 */
int inject_call(struct inject *in, long nr, const uint64_t args[6], long *ret)
{
	struct user_regs_struct r;
	int status, err, entered = 0;
	enum stop_event ev;

	if (in->given_back)
		return -ESRCH;
	in->seccomp_stopped = 0;
	in->seccomp_data = 0;
	inject_call_regs(&in->saved, in->sc, nr, args, &r);
	if (ptrace(PTRACE_SETREGS, in->tid, 0, &r) < 0)
		return -errno;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, in->tid, 0, 0) < 0)
			return -errno;
		if ((err = wait_stop(in, &status)) < 0)
			return err;
		if (!WIFSTOPPED(status))
			continue;
		ev = stop_classify(status);
		if (ev == STOP_SECCOMP) {
			unsigned long msg = 0;

			ptrace(PTRACE_GETEVENTMSG, in->tid, 0, &msg);
			in->seccomp_stopped = 1;
			in->seccomp_data = (uint32_t)msg;
			continue;
		}
		if (ev == STOP_SYSCALL) {
			if (!entered) {
				entered = 1;
				continue;
			}
			break;
		}
		if (ev == STOP_GROUP || ev == STOP_INTERRUPT) {
			/* A group-stop or a stray trap: nothing to hand on. */
			continue;
		}
		/* A signal-delivery-stop (or an event not asked for): hand it on, with its registers. */
		give_back(in, WSTOPSIG(status));
		return -EINTR;
	}
	if (ptrace(PTRACE_GETREGS, in->tid, 0, &r) < 0)
		return -errno;
	*ret = (long)r.rax;
	return 0;
}

/*
 * Give the borrowed thread back, its memory and registers as they were;
 * see the top comment.  The thread is then stopped in the signal code, its
 * stop status in in->status for the caller to handle as a first stop;
 * unless given_back (resumed, or gone with in->status).  0 or -errno.
 */
int inject_end(struct inject *in)
{
	enum stop_event ev;
	int status, err;

	if (in->given_back)
		return 0;
	if ((err = inject_unborrow(in)) < 0)
		return err;
	if (ptrace(PTRACE_INTERRUPT, in->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, in->tid, 0, 0) < 0)
		return -errno;
	for (;;) {
		if ((err = wait_stop(in, &status)) < 0)
			return err;
		if (!WIFSTOPPED(status))
			continue;
		ev = stop_classify(status);
		if (ev == STOP_GROUP || ev == STOP_INTERRUPT) {
			if (ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved) < 0)
				return -errno;
			in->status = status;
			return 0;
		}
		if (ev == STOP_SIGNAL) {
			give_back(in, WSTOPSIG(status));
			return 0;
		}
		/* Anything else (it should not come): on to the signal code. */
		if (ptrace(PTRACE_CONT, in->tid, 0, 0) < 0)
			return -errno;
	}
}
