// SPDX-License-Identifier: MIT
/* Signal positioning and delivery (signals.h) and the program-facing signal calls. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "a8/raw.h"
#include "ckpt/ckpt.h"
#include "arch.h"
#include "canon/table.h"
#include "exchange/wire.h"
#include "signals.h"
#include "stream.h"
#include "util.h"
#include "exchange/link.h"

#define NSIG_K 65
#define QMAX 32
#define BIT(s) (1UL << ((s) - 1))
/*
 * Signals the program may never block or handle: the interposers need SIGSYS, the criu
 * engine one more (a8_sig_reserve).
 */
static unsigned long reserved = BIT(SIGSYS);

struct progact {
	void *handler;
	unsigned long flags;
	unsigned long mask;
};

static struct progact prog[NSIG_K];
static struct a8_sigrec queue[QMAX];
static volatile int qlen;
volatile int a8_sig_queued;
static volatile int deliver_now[NSIG_K];
/*
 * The mask the program returns to after each signal's handler: per signal, since a handler
 * may make calls that deliver another signal before it returns.
 */
static volatile unsigned long restore_mask[NSIG_K];
static unsigned long trap_mask;
static uint64_t restore_trap = ~0ULL;

/*
 * Signals whose default action ends the process. The monitor catches them too, so that the
 * leader's death by a signal is a stream event: every variant dies of it at the same position.
 */
#define FATAL_DEFAULT (BIT(SIGHUP) | BIT(SIGINT) | BIT(SIGQUIT) | BIT(SIGUSR1) | BIT(SIGUSR2) | \
		       BIT(SIGPIPE) | BIT(SIGALRM) | BIT(SIGTERM) | BIT(SIGIO) | BIT(SIGPROF) | \
		       BIT(SIGVTALRM) | BIT(SIGXCPU) | BIT(SIGXFSZ) | BIT(SIGPWR) | CRASHES)
/* Signals that tell a program to stop: what follows is its shutdown, not its service. */
#define STOPS (BIT(SIGTERM) | BIT(SIGINT) | BIT(SIGQUIT))
/* A crash on the leader is a stream event too: a follower that did not crash there diverged. */
#define CRASHES (BIT(SIGSEGV) | BIT(SIGBUS) | BIT(SIGFPE) | BIT(SIGILL) | BIT(SIGTRAP) | \
		 BIT(SIGABRT))

static bool synchronous_fault(int sig, const siginfo_t *si)
{
	return si->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
				   sig == SIGILL || sig == SIGTRAP);
}

/*
 * Leader: the program faulted with no handler of its own. The followers learn it before the
 * process dies; a follower that reaches that point without the same fault has diverged.
 */
static void a8_record_crash(int sig)
{
	struct a8_rec_hdr *h = a8_rec_begin(A8_REC_CRASH, (uint16_t)sig, a8.seq);

	a8_rec_end(h);
	a8_tx_flush();
}

/* The program never handled sig: die of it the kernel's way. */
static void die_by(int sig)
{
	struct a8_ksigaction dfl = { 0 };
	unsigned long m = BIT(sig);

	/* A root resumed from a checkpoint is not the agent's child: tell it how this ends. */
	a8_agent_event("exit", "\"status\":%d,\"calls\":%llu", 128 + sig,
		       (unsigned long long)a8.stats->calls_seen);
	dfl.handler = SIG_DFL;
	a8_sys4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
	a8_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, &m, NULL, 8);
	a8_sys3(SYS_tgkill, a8_sys0(SYS_getpid), a8_sys0(SYS_gettid), sig);
	a8_sys1(SYS_exit_group, 128 + sig);
}

static long install(int sig, const struct progact *a);

static void call_program(int sig, siginfo_t *si, void *uc)
{
	struct progact *a = &prog[sig];

	void *handler = a->handler;
	unsigned long flags = a->flags;

	if (handler == SIG_DFL)
		die_by(sig);
	if (flags & SA_RESETHAND) {
		/* One delivery, then the default, as the kernel would (the monitor strips the flag). */
		a->handler = SIG_DFL;
		a->flags = 0;
		install(sig, a);
	}
	if (flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))handler)(sig, si, uc);
	else
		((void (*)(int))handler)(sig);
}

/*
 * The kernel-level handler of every signal the program handles. A delivery the monitor
 * arranged runs the program's handler; anything else is queued (leader) or dropped (follower).
 */
static void trampoline(int sig, siginfo_t *si, void *uc)
{
	if (deliver_now[sig]) {
		unsigned long back = restore_mask[sig];

		deliver_now[sig] = 0;
		call_program(sig, si, uc);
		A8_UC_SIGMASK(uc) = back;
		return;
	}
	if (synchronous_fault(sig, si)) {
		a8_log(A8_LOG_INFO, 0, "the program faulted: signal %d at pc %#lx, address %p",
		       sig, (unsigned long)A8_UC_PC(uc), si->si_addr);
		if (prog[sig].handler == SIG_DFL && a8.role == A8_ROLE_LEADER)
			a8_record_crash(sig);
		call_program(sig, si, uc);
		return;
	}
	/* A rollback woke this retired process to finish an output: a8's SIGCONT, not the program's. */
	if (sig == SIGCONT && a8_retired())
		return;
	/*
	 * A leader replaying after a rollback runs as a follower; a signal that comes meanwhile
	 * (a stop) is the live program's: it is delivered once the replay is over.
	 */
	if ((a8.role != A8_ROLE_LEADER && !a8_replaying()) || qlen >= QMAX)
		return;
	queue[qlen].signo = (uint32_t)sig;
	memcpy(queue[qlen].info, si, sizeof(queue[qlen].info));
	qlen++;
	a8_sig_queued = 1;
	/* Caught between unblocking and the blocking call: make the call return -EINTR. */
	if ((char *)A8_UC_PC(uc) >= a8_intr_begin && (char *)A8_UC_PC(uc) <= a8_intr_insn)
		A8_UC_PC(uc) = (unsigned long)a8_intr_eintr;
}

bool a8_sig_due(void)
{
	return a8_sig_queued;
}

int a8_sig_record_queued(void)
{
	int i, n = qlen;

	for (i = 0; i < n; i++)
		a8_sec_put(A8_SEC_SIGNAL, &queue[i], sizeof(queue[i]));
	return n;
}

unsigned long a8_sig_program_mask(const struct a8_call *c)
{
	return A8_UC_SIGMASK(c->uc);
}

void a8_sig_set_program_mask(struct a8_call *c, unsigned long mask)
{
	A8_UC_SIGMASK(c->uc) = mask & ~reserved;
}

void a8_sig_deliver(struct a8_call *c, const struct a8_sigrec *s)
{
	long pid = a8_sys0(SYS_getpid), tid = a8_sys0(SYS_gettid);
	siginfo_t si;

	if (s->signo == 0 || s->signo >= NSIG_K)
		return;
	if (BIT(s->signo) & STOPS)
		a8_faults_stop();
	memcpy(&si, s->info, sizeof(si));
	si.si_signo = (int)s->signo;
	/* The first delivery of a trap records the mask the program returns to. */
	if (restore_trap != a8.stats->calls_seen) {
		restore_trap = a8.stats->calls_seen;
		trap_mask = A8_UC_SIGMASK(c->uc);
	}
	restore_mask[s->signo] = trap_mask;
	deliver_now[s->signo] = 1;
	if (prog[s->signo].handler == SIG_DFL) {
		a8_tx_flush();	/* the followers must learn of it before this process dies */
		a8_replay_ending();
	}
	a8_sys4(SYS_rt_tgsigqueueinfo, pid, tid, s->signo, &si);
	A8_UC_SIGMASK(c->uc) &= ~BIT(s->signo);
	a8.stats->signals++;
}

bool a8_sig_restarts(const struct a8_call *c, uint32_t signo)
{
	return signo < NSIG_K && (prog[signo].flags & SA_RESTART) &&
	       !(c->ci->flags & F_NORESTART);
}

void a8_sig_deliver_queued(struct a8_call *c)
{
	int i;

	for (i = 0; i < qlen; i++)
		a8_sig_deliver(c, &queue[i]);
	qlen = 0;
	a8_sig_queued = 0;
}

uint32_t a8_sig_first(void)
{
	return qlen ? queue[0].signo : 0;
}

void a8_sig_collect_self(unsigned long mask)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;

	mask &= ~reserved;
	while (qlen < QMAX) {
		long sig = a8_sys4(SYS_rt_sigtimedwait, &mask, &si, &zero, 8);

		if (sig <= 0)
			break;
		queue[qlen].signo = (uint32_t)sig;
		memcpy(queue[qlen].info, &si, sizeof(queue[qlen].info));
		qlen++;
		a8_sig_queued = 1;
	}
}

/* The program's calls about signals ------------------------------------------------------ */

static bool is_handler(void *h)
{
	return h != SIG_DFL && h != SIG_IGN;
}

static long install(int sig, const struct progact *a)
{
	struct a8_ksigaction k = { 0 };

	k.handler = a->handler;
	k.flags = a->flags | SA_RESTORER;
	k.restorer = a8_sigreturn_restorer;
	k.mask = a->mask & ~reserved;
	if (is_handler(a->handler) || (a->handler == SIG_DFL && BIT(sig) & FATAL_DEFAULT)) {
		/* The trampoline decides when the program's handler runs (signals.h). */
		k.handler = (void *)trampoline;
		k.flags = (a->flags | SA_SIGINFO | SA_RESTORER) & ~(SA_RESTART | SA_RESETHAND);
	}
	return a8_sys4(SYS_rt_sigaction, sig, &k, NULL, 8);
}

void a8_h_sigaction(struct a8_call *c)
{
	int sig = (int)c->a[0];
	const struct a8_ksigaction *act = (const void *)c->a[1];
	struct a8_ksigaction *oact = (void *)c->a[2];
	struct progact next = { 0 };

	if (sig <= 0 || sig >= NSIG_K || c->a[3] != 8) {
		c->ret = -EINVAL;
		return;
	}
	if (BIT(sig) & reserved) {
		/* The monitor owns it (SIGSYS: the interposer): the program's wish is never installed. */
		if (oact)
			memset(oact, 0, sizeof(*oact));
		c->ret = 0;
		return;
	}
	if (act) {	/* read before oact is written: they may be the same memory */
		next.handler = act->handler;
		next.flags = act->flags;
		next.mask = act->mask;
	}
	if (oact) {	/* the program's view, never the trampoline */
		oact->handler = prog[sig].handler;
		oact->flags = prog[sig].flags;
		oact->mask = prog[sig].mask;
		oact->restorer = a8_sigreturn_restorer;
	}
	c->ret = 0;
	if (!act)
		return;
	c->ret = install(sig, &next);
	if (!c->ret)
		prog[sig] = next;
}

/*
 * The program's mask lives in the trap's signal frame (restored at sigreturn). A streamed
 * call: unblocking a pending signal delivers it here, at this position, on every variant.
 */
void a8_h_sigprocmask(struct a8_call *c)
{
	unsigned long old = a8_sig_program_mask(c), set, next = old;
	struct a8_step s;

	if (c->a[3] != 8) {
		c->ret = -EINVAL;
		return;
	}
	if (c->a[1]) {
		set = *(const unsigned long *)c->a[1];
		if (c->a[0] == SIG_BLOCK)
			next = old | set;
		else if (c->a[0] == SIG_UNBLOCK)
			next = old & ~set;
		else if (c->a[0] == SIG_SETMASK)
			next = set;
		else {
			c->ret = -EINVAL;
			return;
		}
	}
	if (!a8_step_begin(c, &s))
		return;
	a8_sig_set_program_mask(c, next);
	if (c->a[2])
		*(unsigned long *)c->a[2] = old;
	c->ret = 0;
	if (a8.role == A8_ROLE_FOLLOWER) {
		a8_step_follow(c, &s, false);
		return;
	}
	a8_sig_collect_self(old & ~next);
	a8_step_commit(c, &s, a8_step_record(c, &s, false));
}

void a8_h_sigsuspend(struct a8_call *c)
{
	struct a8_step s;
	struct a8_rec_hdr *h;
	unsigned long m;

	if (!a8_step_begin(c, &s))
		return;
	if (a8.role == A8_ROLE_FOLLOWER) {
		a8_step_follow(c, &s, true);
		return;
	}
	a8_tx_flush();
	m = (c->a[0] ? *(const unsigned long *)c->a[0] : 0) & ~reserved;
	for (;;) {
		c->ret = a8_ckpt_cut_wanted() ? -EINTR :
			 a8_raw_syscall6_intr(SYS_rt_sigsuspend, (long)&m, 8, 0, 0, 0, 0);
		if (!a8_ckpt_cut_interrupted(c))
			break;
		/* The agent's checkpoint of the tree: taken here, then the wait goes on. */
		if (a8_ckpt_leader(c, s.seq)) {
			a8.seq = s.seq - 1;	/* restored: this position runs anew */
			a8_h_sigsuspend(c);
			return;
		}
	}
	h = a8_step_record(c, &s, true);
	a8_step_commit(c, &s, h);
}

void a8_h_sigreturn(struct a8_call *c)
{
	/* A restorer outside the monitor: return through the monitor's own, same stack. */
	A8_UC_PC(c->uc) = (unsigned long)a8_sigreturn_restorer;
	c->restart = false;
	c->ret = A8_UC_RET(c->uc);
}

/* kill, tkill, tgkill: the leader sends, followers take its result; self-signals land here. */
void a8_h_kill(struct a8_call *c)
{
	int sig_arg = c->ci->args[2].kind == AK_INT ? 2 : 1;
	long sig = c->a[sig_arg];
	struct a8_step s;
	struct a8_rec_hdr *h;

	c->route = R_LEADER;
	if (!a8_step_begin(c, &s))
		return;
	if (a8.role == A8_ROLE_FOLLOWER) {
		a8_step_follow(c, &s, true);
		return;
	}
	s.out_marked = a8_out_begin(s.seq);	/* a signal sent is an output (retire.c) */
	c->ret = a8_sys3(a8_call_nr(c->ci->cid), c->a[0], c->a[1], c->a[2]);
	if (c->ret == 0 && sig > 0 && sig < NSIG_K)
		a8_sig_collect_self(BIT(sig) & ~a8_sig_program_mask(c));
	h = a8_step_record(c, &s, true);
	a8_step_commit(c, &s, h);
}

int a8_sig_reserve(int sig, void (*handler)(int, siginfo_t *, void *))
{
	struct a8_ksigaction k = { 0 };

	if (sig <= 0 || sig >= NSIG_K || BIT(sig) & FATAL_DEFAULT)
		return -EINVAL;
	k.handler = (void *)handler;
	k.flags = SA_SIGINFO | SA_RESTORER | SA_RESTART;
	k.restorer = a8_sigreturn_restorer;
	k.mask = ~0UL;
	reserved |= BIT(sig);
	return (int)a8_sys4(SYS_rt_sigaction, sig, &k, NULL, 8);
}

/* Each image starts with default actions: catch the fatal ones (see FATAL_DEFAULT). */
void a8_signals_init(void)
{
	int sig;

	for (sig = 1; sig < NSIG_K; sig++) {
		struct a8_ksigaction cur;

		if (a8_sys4(SYS_rt_sigaction, sig, NULL, &cur, 8))
			continue;
		/* Inherited dispositions (nohup's SIG_IGN) are the program's own. */
		prog[sig].handler = cur.handler == SIG_IGN ? SIG_IGN : SIG_DFL;
		if (!(BIT(sig) & FATAL_DEFAULT) || cur.handler != SIG_DFL)
			continue;
		prog[sig].handler = SIG_DFL;
		prog[sig].flags = 0;
		prog[sig].mask = 0;
		install(sig, &prog[sig]);
	}
}
