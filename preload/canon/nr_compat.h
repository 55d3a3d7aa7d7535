/* SPDX-License-Identifier: MIT */
/* Generated list: a call this ISA does not have gets number -1. */
#ifndef A8_NR_COMPAT_H
#define A8_NR_COMPAT_H
#include <asm/unistd.h>
#ifndef __NR_accept
#define __NR_accept (-1)
#endif
#ifndef __NR_accept4
#define __NR_accept4 (-1)
#endif
#ifndef __NR_access
#define __NR_access (-1)
#endif
#ifndef __NR_alarm
#define __NR_alarm (-1)
#endif
#ifndef __NR_arch_prctl
#define __NR_arch_prctl (-1)
#endif
#ifndef __NR_bind
#define __NR_bind (-1)
#endif
#ifndef __NR_brk
#define __NR_brk (-1)
#endif
#ifndef __NR_capget
#define __NR_capget (-1)
#endif
#ifndef __NR_capset
#define __NR_capset (-1)
#endif
#ifndef __NR_chdir
#define __NR_chdir (-1)
#endif
#ifndef __NR_chmod
#define __NR_chmod (-1)
#endif
#ifndef __NR_chown
#define __NR_chown (-1)
#endif
#ifndef __NR_chroot
#define __NR_chroot (-1)
#endif
#ifndef __NR_clock_getres
#define __NR_clock_getres (-1)
#endif
#ifndef __NR_clock_gettime
#define __NR_clock_gettime (-1)
#endif
#ifndef __NR_clock_nanosleep
#define __NR_clock_nanosleep (-1)
#endif
#ifndef __NR_clone
#define __NR_clone (-1)
#endif
#ifndef __NR_clone3
#define __NR_clone3 (-1)
#endif
#ifndef __NR_close
#define __NR_close (-1)
#endif
#ifndef __NR_connect
#define __NR_connect (-1)
#endif
#ifndef __NR_copy_file_range
#define __NR_copy_file_range (-1)
#endif
#ifndef __NR_creat
#define __NR_creat (-1)
#endif
#ifndef __NR_dup
#define __NR_dup (-1)
#endif
#ifndef __NR_dup2
#define __NR_dup2 (-1)
#endif
#ifndef __NR_dup3
#define __NR_dup3 (-1)
#endif
#ifndef __NR_epoll_create
#define __NR_epoll_create (-1)
#endif
#ifndef __NR_epoll_create1
#define __NR_epoll_create1 (-1)
#endif
#ifndef __NR_epoll_ctl
#define __NR_epoll_ctl (-1)
#endif
#ifndef __NR_epoll_pwait
#define __NR_epoll_pwait (-1)
#endif
#ifndef __NR_epoll_wait
#define __NR_epoll_wait (-1)
#endif
#ifndef __NR_eventfd
#define __NR_eventfd (-1)
#endif
#ifndef __NR_eventfd2
#define __NR_eventfd2 (-1)
#endif
#ifndef __NR_execve
#define __NR_execve (-1)
#endif
#ifndef __NR_exit
#define __NR_exit (-1)
#endif
#ifndef __NR_exit_group
#define __NR_exit_group (-1)
#endif
#ifndef __NR_faccessat
#define __NR_faccessat (-1)
#endif
#ifndef __NR_faccessat2
#define __NR_faccessat2 (-1)
#endif
#ifndef __NR_fadvise64
#define __NR_fadvise64 (-1)
#endif
#ifndef __NR_fallocate
#define __NR_fallocate (-1)
#endif
#ifndef __NR_fchdir
#define __NR_fchdir (-1)
#endif
#ifndef __NR_fchmod
#define __NR_fchmod (-1)
#endif
#ifndef __NR_fchmodat
#define __NR_fchmodat (-1)
#endif
#ifndef __NR_fchown
#define __NR_fchown (-1)
#endif
#ifndef __NR_fchownat
#define __NR_fchownat (-1)
#endif
#ifndef __NR_fcntl
#define __NR_fcntl (-1)
#endif
#ifndef __NR_fdatasync
#define __NR_fdatasync (-1)
#endif
#ifndef __NR_flock
#define __NR_flock (-1)
#endif
#ifndef __NR_fork
#define __NR_fork (-1)
#endif
#ifndef __NR_fstat
#define __NR_fstat (-1)
#endif
#ifndef __NR_fstatfs
#define __NR_fstatfs (-1)
#endif
#ifndef __NR_fsync
#define __NR_fsync (-1)
#endif
#ifndef __NR_ftruncate
#define __NR_ftruncate (-1)
#endif
#ifndef __NR_futex
#define __NR_futex (-1)
#endif
#ifndef __NR_getcpu
#define __NR_getcpu (-1)
#endif
#ifndef __NR_getcwd
#define __NR_getcwd (-1)
#endif
#ifndef __NR_getdents64
#define __NR_getdents64 (-1)
#endif
#ifndef __NR_getegid
#define __NR_getegid (-1)
#endif
#ifndef __NR_geteuid
#define __NR_geteuid (-1)
#endif
#ifndef __NR_getgid
#define __NR_getgid (-1)
#endif
#ifndef __NR_getgroups
#define __NR_getgroups (-1)
#endif
#ifndef __NR_getitimer
#define __NR_getitimer (-1)
#endif
#ifndef __NR_getpeername
#define __NR_getpeername (-1)
#endif
#ifndef __NR_getpgid
#define __NR_getpgid (-1)
#endif
#ifndef __NR_getpgrp
#define __NR_getpgrp (-1)
#endif
#ifndef __NR_getpid
#define __NR_getpid (-1)
#endif
#ifndef __NR_getppid
#define __NR_getppid (-1)
#endif
#ifndef __NR_getpriority
#define __NR_getpriority (-1)
#endif
#ifndef __NR_getrandom
#define __NR_getrandom (-1)
#endif
#ifndef __NR_getresgid
#define __NR_getresgid (-1)
#endif
#ifndef __NR_getresuid
#define __NR_getresuid (-1)
#endif
#ifndef __NR_getrlimit
#define __NR_getrlimit (-1)
#endif
#ifndef __NR_getrusage
#define __NR_getrusage (-1)
#endif
#ifndef __NR_getsid
#define __NR_getsid (-1)
#endif
#ifndef __NR_getsockname
#define __NR_getsockname (-1)
#endif
#ifndef __NR_getsockopt
#define __NR_getsockopt (-1)
#endif
#ifndef __NR_gettid
#define __NR_gettid (-1)
#endif
#ifndef __NR_gettimeofday
#define __NR_gettimeofday (-1)
#endif
#ifndef __NR_getuid
#define __NR_getuid (-1)
#endif
#ifndef __NR_inotify_add_watch
#define __NR_inotify_add_watch (-1)
#endif
#ifndef __NR_inotify_init
#define __NR_inotify_init (-1)
#endif
#ifndef __NR_inotify_init1
#define __NR_inotify_init1 (-1)
#endif
#ifndef __NR_inotify_rm_watch
#define __NR_inotify_rm_watch (-1)
#endif
#ifndef __NR_ioctl
#define __NR_ioctl (-1)
#endif
#ifndef __NR_kill
#define __NR_kill (-1)
#endif
#ifndef __NR_lchown
#define __NR_lchown (-1)
#endif
#ifndef __NR_link
#define __NR_link (-1)
#endif
#ifndef __NR_linkat
#define __NR_linkat (-1)
#endif
#ifndef __NR_listen
#define __NR_listen (-1)
#endif
#ifndef __NR_lseek
#define __NR_lseek (-1)
#endif
#ifndef __NR_lstat
#define __NR_lstat (-1)
#endif
#ifndef __NR_madvise
#define __NR_madvise (-1)
#endif
#ifndef __NR_membarrier
#define __NR_membarrier (-1)
#endif
#ifndef __NR_memfd_create
#define __NR_memfd_create (-1)
#endif
#ifndef __NR_mincore
#define __NR_mincore (-1)
#endif
#ifndef __NR_mkdir
#define __NR_mkdir (-1)
#endif
#ifndef __NR_mkdirat
#define __NR_mkdirat (-1)
#endif
#ifndef __NR_mlock
#define __NR_mlock (-1)
#endif
#ifndef __NR_mmap
#define __NR_mmap (-1)
#endif
#ifndef __NR_mprotect
#define __NR_mprotect (-1)
#endif
#ifndef __NR_mremap
#define __NR_mremap (-1)
#endif
#ifndef __NR_msync
#define __NR_msync (-1)
#endif
#ifndef __NR_munlock
#define __NR_munlock (-1)
#endif
#ifndef __NR_munmap
#define __NR_munmap (-1)
#endif
#ifndef __NR_nanosleep
#define __NR_nanosleep (-1)
#endif
#ifndef __NR_newfstatat
#define __NR_newfstatat (-1)
#endif
#ifndef __NR_open
#define __NR_open (-1)
#endif
#ifndef __NR_openat
#define __NR_openat (-1)
#endif
#ifndef __NR_pause
#define __NR_pause (-1)
#endif
#ifndef __NR_personality
#define __NR_personality (-1)
#endif
#ifndef __NR_pipe
#define __NR_pipe (-1)
#endif
#ifndef __NR_pipe2
#define __NR_pipe2 (-1)
#endif
#ifndef __NR_poll
#define __NR_poll (-1)
#endif
#ifndef __NR_ppoll
#define __NR_ppoll (-1)
#endif
#ifndef __NR_prctl
#define __NR_prctl (-1)
#endif
#ifndef __NR_pread64
#define __NR_pread64 (-1)
#endif
#ifndef __NR_preadv
#define __NR_preadv (-1)
#endif
#ifndef __NR_prlimit64
#define __NR_prlimit64 (-1)
#endif
#ifndef __NR_pselect6
#define __NR_pselect6 (-1)
#endif
#ifndef __NR_pwrite64
#define __NR_pwrite64 (-1)
#endif
#ifndef __NR_pwritev
#define __NR_pwritev (-1)
#endif
#ifndef __NR_read
#define __NR_read (-1)
#endif
#ifndef __NR_readlink
#define __NR_readlink (-1)
#endif
#ifndef __NR_readlinkat
#define __NR_readlinkat (-1)
#endif
#ifndef __NR_readv
#define __NR_readv (-1)
#endif
#ifndef __NR_recvfrom
#define __NR_recvfrom (-1)
#endif
#ifndef __NR_recvmsg
#define __NR_recvmsg (-1)
#endif
#ifndef __NR_rename
#define __NR_rename (-1)
#endif
#ifndef __NR_renameat
#define __NR_renameat (-1)
#endif
#ifndef __NR_renameat2
#define __NR_renameat2 (-1)
#endif
#ifndef __NR_rmdir
#define __NR_rmdir (-1)
#endif
#ifndef __NR_rseq
#define __NR_rseq (-1)
#endif
#ifndef __NR_rt_sigaction
#define __NR_rt_sigaction (-1)
#endif
#ifndef __NR_rt_sigpending
#define __NR_rt_sigpending (-1)
#endif
#ifndef __NR_rt_sigprocmask
#define __NR_rt_sigprocmask (-1)
#endif
#ifndef __NR_rt_sigreturn
#define __NR_rt_sigreturn (-1)
#endif
#ifndef __NR_rt_sigsuspend
#define __NR_rt_sigsuspend (-1)
#endif
#ifndef __NR_sched_getaffinity
#define __NR_sched_getaffinity (-1)
#endif
#ifndef __NR_sched_setaffinity
#define __NR_sched_setaffinity (-1)
#endif
#ifndef __NR_sched_yield
#define __NR_sched_yield (-1)
#endif
#ifndef __NR_select
#define __NR_select (-1)
#endif
#ifndef __NR_sendfile
#define __NR_sendfile (-1)
#endif
#ifndef __NR_sendmsg
#define __NR_sendmsg (-1)
#endif
#ifndef __NR_sendto
#define __NR_sendto (-1)
#endif
#ifndef __NR_set_robust_list
#define __NR_set_robust_list (-1)
#endif
#ifndef __NR_set_tid_address
#define __NR_set_tid_address (-1)
#endif
#ifndef __NR_setgid
#define __NR_setgid (-1)
#endif
#ifndef __NR_setgroups
#define __NR_setgroups (-1)
#endif
#ifndef __NR_setitimer
#define __NR_setitimer (-1)
#endif
#ifndef __NR_setpgid
#define __NR_setpgid (-1)
#endif
#ifndef __NR_setpriority
#define __NR_setpriority (-1)
#endif
#ifndef __NR_setresgid
#define __NR_setresgid (-1)
#endif
#ifndef __NR_setresuid
#define __NR_setresuid (-1)
#endif
#ifndef __NR_setrlimit
#define __NR_setrlimit (-1)
#endif
#ifndef __NR_setsid
#define __NR_setsid (-1)
#endif
#ifndef __NR_setsockopt
#define __NR_setsockopt (-1)
#endif
#ifndef __NR_setuid
#define __NR_setuid (-1)
#endif
#ifndef __NR_shutdown
#define __NR_shutdown (-1)
#endif
#ifndef __NR_sigaltstack
#define __NR_sigaltstack (-1)
#endif
#ifndef __NR_signalfd4
#define __NR_signalfd4 (-1)
#endif
#ifndef __NR_socket
#define __NR_socket (-1)
#endif
#ifndef __NR_socketpair
#define __NR_socketpair (-1)
#endif
#ifndef __NR_splice
#define __NR_splice (-1)
#endif
#ifndef __NR_stat
#define __NR_stat (-1)
#endif
#ifndef __NR_statfs
#define __NR_statfs (-1)
#endif
#ifndef __NR_statx
#define __NR_statx (-1)
#endif
#ifndef __NR_symlink
#define __NR_symlink (-1)
#endif
#ifndef __NR_symlinkat
#define __NR_symlinkat (-1)
#endif
#ifndef __NR_sync
#define __NR_sync (-1)
#endif
#ifndef __NR_syncfs
#define __NR_syncfs (-1)
#endif
#ifndef __NR_sysinfo
#define __NR_sysinfo (-1)
#endif
#ifndef __NR_tgkill
#define __NR_tgkill (-1)
#endif
#ifndef __NR_time
#define __NR_time (-1)
#endif
#ifndef __NR_timerfd_create
#define __NR_timerfd_create (-1)
#endif
#ifndef __NR_timerfd_gettime
#define __NR_timerfd_gettime (-1)
#endif
#ifndef __NR_timerfd_settime
#define __NR_timerfd_settime (-1)
#endif
#ifndef __NR_times
#define __NR_times (-1)
#endif
#ifndef __NR_tkill
#define __NR_tkill (-1)
#endif
#ifndef __NR_truncate
#define __NR_truncate (-1)
#endif
#ifndef __NR_umask
#define __NR_umask (-1)
#endif
#ifndef __NR_uname
#define __NR_uname (-1)
#endif
#ifndef __NR_unlink
#define __NR_unlink (-1)
#endif
#ifndef __NR_unlinkat
#define __NR_unlinkat (-1)
#endif
#ifndef __NR_utimensat
#define __NR_utimensat (-1)
#endif
#ifndef __NR_vfork
#define __NR_vfork (-1)
#endif
#ifndef __NR_wait4
#define __NR_wait4 (-1)
#endif
#ifndef __NR_write
#define __NR_write (-1)
#endif
#ifndef __NR_writev
#define __NR_writev (-1)
#endif
#endif
