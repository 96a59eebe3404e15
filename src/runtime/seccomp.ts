// The default seccomp profile and its conversion to the OCI `linux.seccomp` section.
//
// The allowlist is Podman's (containers/common pkg/seccomp, itself derived from Docker's profile),
// kept as data. Like Podman, unknown syscalls fail with ENOSYS (so that libc falls back, e.g. from
// clone3 to clone) while the listed dangerous ones fail with EPERM. Entries may depend on the
// container's bounding capabilities and on the architecture; `seccompToOci` filters them exactly like
// containers/common's setupSeccomp, for the native architecture and its sub-architectures.
import { TspodError } from '../errors.js';

const EPERM = 1;
const EINVAL = 22;
const ENOSYS = 38;
const AF_NETLINK = 16;
const NETLINK_AUDIT = 9;

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSyscall[];
}

/** An Includes/Excludes filter of the containers/Docker profile format. */
export interface ProfileFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface ProfileSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
  includes?: ProfileFilter;
  excludes?: ProfileFilter;
}

/** A profile in the containers/Docker format (`--security-opt seccomp=<file>` uses it too). */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] }>;
  flags?: string[];
  syscalls: ProfileSyscall[];
}

const ARCH_MAP: ReadonlyArray<{ architecture: string; subArchitectures: string[] }> = [
  { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
];

const DEFAULT_SYSCALLS: ReadonlyArray<ProfileSyscall> = [
  {
    names: [
      'bdflush', 'cachestat', 'futex_requeue', 'futex_wait', 'futex_waitv', 'futex_wake',
      'io_pgetevents', 'io_pgetevents_time64', 'kexec_file_load', 'kexec_load', 'map_shadow_stack',
      'migrate_pages', 'move_pages', 'nfsservctl', 'nice', 'oldfstat', 'oldlstat', 'oldolduname',
      'oldstat', 'olduname', 'pciconfig_iobase', 'pciconfig_read', 'pciconfig_write', 'sgetmask',
      'ssetmask', 'swapoff', 'swapon', 'syscall', 'sysfs', 'uselib', 'userfaultfd', 'ustat', 'vm86',
      'vm86old', 'vmsplice',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
  },
  {
    names: [
      '_llseek', '_newselect', 'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk',
      'capget', 'capset', 'chdir', 'chmod', 'chown', 'chown32', 'clock_adjtime', 'clock_adjtime64',
      'clock_getres', 'clock_getres_time64', 'clock_gettime', 'clock_gettime64', 'clock_nanosleep',
      'clock_nanosleep_time64', 'clone', 'clone3', 'close', 'close_range', 'connect',
      'copy_file_range', 'creat', 'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl',
      'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd',
      'eventfd2', 'execve', 'execveat', 'exit', 'exit_group', 'faccessat', 'faccessat2', 'fadvise64',
      'fadvise64_64', 'fallocate', 'fanotify_init', 'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat',
      'fchmodat2', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr',
      'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsconfig', 'fsetxattr', 'fsmount', 'fsopen',
      'fspick', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate',
      'ftruncate64', 'futex', 'futex_time64', 'futimesat', 'get_mempolicy', 'get_robust_list',
      'get_thread_area', 'getcpu', 'getcwd', 'getdents', 'getdents64', 'getegid', 'getegid32',
      'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getitimer',
      'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom',
      'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'getrusage', 'getsid',
      'getsockname', 'getsockopt', 'gettid', 'gettimeofday', 'getuid', 'getuid32', 'getxattr',
      'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'io_cancel',
      'io_destroy', 'io_getevents', 'io_setup', 'io_submit', 'ioctl', 'ioprio_get', 'ioprio_set',
      'ipc', 'keyctl', 'kill', 'landlock_add_rule', 'landlock_create_ruleset',
      'landlock_restrict_self', 'lchown', 'lchown32', 'lgetxattr', 'link', 'linkat', 'listen',
      'listxattr', 'llistxattr', 'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'lstat64', 'madvise',
      'mbind', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mkdir', 'mkdirat', 'mknod',
      'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2', 'mount', 'mount_setattr',
      'move_mount', 'mprotect', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive',
      'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'mremap', 'msgctl',
      'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap', 'name_to_handle_at',
      'nanosleep', 'newfstatat', 'open', 'open_tree', 'openat', 'openat2', 'pause', 'pidfd_getfd',
      'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pivot_root', 'pkey_alloc', 'pkey_free',
      'pkey_mprotect', 'poll', 'ppoll', 'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2',
      'prlimit64', 'process_mrelease', 'process_vm_readv', 'process_vm_writev', 'pselect6',
      'pselect6_time64', 'ptrace', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink',
      'readlinkat', 'readv', 'reboot', 'recv', 'recvfrom', 'recvmmsg', 'recvmmsg_time64', 'recvmsg',
      'remap_file_pages', 'removexattr', 'rename', 'renameat', 'renameat2', 'restart_syscall', 'rmdir',
      'rseq', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn',
      'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo',
      'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity', 'sched_getattr',
      'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
      'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield',
      'seccomp', 'select', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'send',
      'sendfile', 'sendfile64', 'sendmmsg', 'sendmsg', 'sendto', 'set_mempolicy', 'set_robust_list',
      'set_thread_area', 'set_tid_address', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32',
      'setgid', 'setgid32', 'setgroups', 'setgroups32', 'setitimer', 'setns', 'setpgid', 'setpriority',
      'setregid', 'setregid32', 'setresgid', 'setresgid32', 'setresuid', 'setresuid32', 'setreuid',
      'setreuid32', 'setrlimit', 'setsid', 'setsockopt', 'setuid', 'setuid32', 'setxattr', 'shmat',
      'shmctl', 'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signal', 'signalfd', 'signalfd4',
      'sigprocmask', 'sigreturn', 'socketcall', 'socketpair', 'splice', 'stat', 'stat64', 'statfs',
      'statfs64', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'sysinfo',
      'syslog', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun',
      'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
      'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill',
      'truncate', 'truncate64', 'ugetrlimit', 'umask', 'umount', 'umount2', 'uname', 'unlink',
      'unlinkat', 'unshare', 'utime', 'utimensat', 'utimensat_time64', 'utimes', 'vfork', 'wait4',
      'waitid', 'waitpid', 'write', 'writev',
    ],
    action: 'SCMP_ACT_ALLOW',
  },
  {
    names: [
      'personality',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }],
  },
  {
    names: [
      'personality',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }],
  },
  {
    names: [
      'personality',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: 0x20000, op: 'SCMP_CMP_EQ' }],
  },
  {
    names: [
      'personality',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: 0x20008, op: 'SCMP_CMP_EQ' }],
  },
  {
    names: [
      'personality',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }],
  },
  {
    names: [
      'sync_file_range2', 'swapcontext',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['ppc64le'] },
  },
  {
    names: [
      'arm_fadvise64_64', 'arm_sync_file_range', 'breakpoint', 'cacheflush', 'set_tls',
      'sync_file_range2',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['arm', 'arm64'] },
  },
  {
    names: [
      'arch_prctl',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['amd64', 'x32'] },
  },
  {
    names: [
      'modify_ldt',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['amd64', 'x32', 'x86'] },
  },
  {
    names: [
      's390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['s390', 's390x'] },
  },
  {
    names: [
      'riscv_flush_icache',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['riscv64'] },
  },
  {
    names: [
      'open_by_handle_at',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_DAC_READ_SEARCH'] },
  },
  {
    names: [
      'open_by_handle_at',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_DAC_READ_SEARCH'] },
  },
  {
    names: [
      'bpf', 'lookup_dcookie', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname', 'setns',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_ADMIN'] },
  },
  {
    names: [
      'lookup_dcookie', 'perf_event_open', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname',
      'setns',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_ADMIN'] },
  },
  {
    names: [
      'chroot',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_CHROOT'] },
  },
  {
    names: [
      'chroot',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_CHROOT'] },
  },
  {
    names: [
      'delete_module', 'finit_module', 'init_module', 'query_module',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_MODULE'] },
  },
  {
    names: [
      'delete_module', 'finit_module', 'init_module', 'query_module',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_MODULE'] },
  },
  {
    names: [
      'acct',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_PACCT'] },
  },
  {
    names: [
      'acct',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_PACCT'] },
  },
  {
    names: [
      'kcmp', 'process_madvise',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_PTRACE'] },
  },
  {
    names: [
      'kcmp', 'process_madvise',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_PTRACE'] },
  },
  {
    names: [
      'ioperm', 'iopl',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_RAWIO'] },
  },
  {
    names: [
      'ioperm', 'iopl',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_RAWIO'] },
  },
  {
    names: [
      'clock_settime', 'clock_settime64', 'settimeofday', 'stime',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_TIME'] },
  },
  {
    names: [
      'clock_settime', 'clock_settime64', 'settimeofday', 'stime',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_TIME'] },
  },
  {
    names: [
      'vhangup',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_TTY_CONFIG'] },
  },
  {
    names: [
      'vhangup',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_TTY_CONFIG'] },
  },
  {
    names: [
      'socket',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EINVAL,
    args: [
      { index: 0, value: AF_NETLINK, op: 'SCMP_CMP_EQ' },
      { index: 2, value: NETLINK_AUDIT, op: 'SCMP_CMP_EQ' },
    ],
    excludes: { caps: ['CAP_AUDIT_WRITE'] },
  },
  {
    names: [
      'socket',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 2, value: NETLINK_AUDIT, op: 'SCMP_CMP_NE' }],
    excludes: { caps: ['CAP_AUDIT_WRITE'] },
  },
  {
    names: [
      'socket',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: AF_NETLINK, op: 'SCMP_CMP_NE' }],
    excludes: { caps: ['CAP_AUDIT_WRITE'] },
  },
  {
    names: [
      'socket',
    ],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 2, value: NETLINK_AUDIT, op: 'SCMP_CMP_NE' }],
    excludes: { caps: ['CAP_AUDIT_WRITE'] },
  },
  {
    names: [
      'socket',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_AUDIT_WRITE'] },
  },
  {
    names: [
      'bpf',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'] },
  },
  {
    names: [
      'bpf',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_BPF'] },
  },
  {
    names: [
      'perf_event_open',
    ],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'] },
  },
  {
    names: [
      'perf_event_open',
    ],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_PERFMON'] },
  },
];

function deepCopy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** A fresh copy of the default profile (never hand out the shared data). */
export function defaultSeccompProfile(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: ENOSYS,
    archMap: deepCopy([...ARCH_MAP]),
    syscalls: deepCopy([...DEFAULT_SYSCALLS]),
  };
}

const ACTIONS = new Set([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
]);
const OPS = new Set([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);
const ERRNOS: Record<string, number> = {
  EPERM,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL,
  ENOSYS,
  EOPNOTSUPP: 95,
  ENOTSUP: 95,
};
const ARCHES = new Set([
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
]);

function bad(msg: string): never {
  throw new TspodError('invalid-argument', `invalid seccomp profile: ${msg}`);
}

function errnoOf(errnoRet: unknown, errno: unknown, where: string): number | undefined {
  if (errnoRet !== undefined && errnoRet !== null) {
    if (typeof errnoRet !== 'number' || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 4095) {
      bad(`${where}: errnoRet must be an errno number`);
    }
    return errnoRet;
  }
  if (errno !== undefined && errno !== null && errno !== '') {
    const n = typeof errno === 'string' ? ERRNOS[errno] : undefined;
    if (n === undefined) bad(`${where}: unknown errno ${JSON.stringify(errno)}`);
    return n;
  }
  return undefined;
}

function stringList(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad(`${where} must be a list of strings`);
  return [...(v as string[])];
}

function filterOf(v: unknown, where: string): ProfileFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) bad(`${where} must be an object`);
  const o = v as Record<string, unknown>;
  const f: ProfileFilter = {};
  const caps = stringList(o.caps, `${where}.caps`);
  const arches = stringList(o.arches, `${where}.arches`);
  if (caps.length) f.caps = caps;
  if (arches.length) f.arches = arches;
  if (typeof o.minKernel === 'string' && o.minKernel !== '') f.minKernel = o.minKernel;
  return f;
}

/**
 * Parses and validates a profile file's text (containers/Docker format; a plain OCI
 * `linux.seccomp` object is accepted too). Throws TspodError('invalid-argument').
 */
export function parseSeccompProfile(text: string): SeccompProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    bad(`not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (typeof o.defaultAction !== 'string' || !ACTIONS.has(o.defaultAction)) {
    bad(`unknown defaultAction ${JSON.stringify(o.defaultAction)}`);
  }
  const profile: SeccompProfile = { defaultAction: o.defaultAction, syscalls: [] };
  const der = errnoOf(o.defaultErrnoRet, o.defaultErrno, 'defaultErrnoRet');
  if (der !== undefined) profile.defaultErrnoRet = der;
  const arches = stringList(o.architectures, 'architectures');
  for (const a of arches) if (!ARCHES.has(a)) bad(`unknown architecture ${JSON.stringify(a)}`);
  if (arches.length) profile.architectures = arches;
  if (o.archMap !== undefined && o.archMap !== null) {
    if (arches.length) bad("'architectures' and 'archMap' were both specified");
    if (!Array.isArray(o.archMap)) bad('archMap must be a list');
    profile.archMap = (o.archMap as unknown[]).map((m, i) => {
      const e = (m ?? {}) as Record<string, unknown>;
      const a = e.architecture;
      const subs = stringList(e.subArchitectures, `archMap[${i}].subArchitectures`);
      if (typeof a !== 'string' || !ARCHES.has(a)) bad(`archMap[${i}]: unknown architecture ${JSON.stringify(a)}`);
      for (const s of subs) if (!ARCHES.has(s)) bad(`archMap[${i}]: unknown architecture ${JSON.stringify(s)}`);
      return { architecture: a, subArchitectures: subs };
    });
  }
  const flags = stringList(o.flags, 'flags');
  if (flags.length) profile.flags = flags;
  if (o.syscalls !== undefined && o.syscalls !== null && !Array.isArray(o.syscalls)) bad('syscalls must be a list');
  for (const [i, s] of ((o.syscalls as unknown[]) ?? []).entries()) {
    const where = `syscalls[${i}]`;
    if (typeof s !== 'object' || s === null) bad(`${where} must be an object`);
    const e = s as Record<string, unknown>;
    const names = stringList(e.names, `${where}.names`);
    if (typeof e.name === 'string' && e.name !== '') {
      if (names.length) bad(`${where}: 'name' and 'names' were both specified`);
      names.push(e.name);
    }
    if (names.length === 0) bad(`${where}: no syscall names`);
    if (typeof e.action !== 'string' || !ACTIONS.has(e.action)) bad(`${where}: unknown action ${JSON.stringify(e.action)}`);
    const call: ProfileSyscall = { names, action: e.action };
    const er = errnoOf(e.errnoRet, e.errno, where);
    if (er !== undefined) call.errnoRet = er;
    if (e.args !== undefined && e.args !== null) {
      if (!Array.isArray(e.args)) bad(`${where}.args must be a list`);
      call.args = (e.args as unknown[]).map((a, j) => {
        const x = (a ?? {}) as Record<string, unknown>;
        const w = `${where}.args[${j}]`;
        if (!Number.isInteger(x.index) || (x.index as number) < 0 || (x.index as number) > 5) bad(`${w}: index must be 0..5`);
        if (!Number.isInteger(x.value) || (x.value as number) < 0) bad(`${w}: value must be a non-negative integer`);
        if (x.valueTwo !== undefined && (!Number.isInteger(x.valueTwo) || (x.valueTwo as number) < 0)) {
          bad(`${w}: valueTwo must be a non-negative integer`);
        }
        if (typeof x.op !== 'string' || !OPS.has(x.op)) bad(`${w}: unknown op ${JSON.stringify(x.op)}`);
        const arg: OciSeccompArg = { index: x.index as number, value: x.value as number, op: x.op };
        if (x.valueTwo !== undefined && x.valueTwo !== 0) arg.valueTwo = x.valueTwo as number;
        return arg;
      });
    }
    const inc = filterOf(e.includes, `${where}.includes`);
    const exc = filterOf(e.excludes, `${where}.excludes`);
    if (inc && Object.keys(inc).length) call.includes = inc;
    if (exc && Object.keys(exc).length) call.excludes = exc;
    profile.syscalls.push(call);
  }
  return profile;
}

/** Node's process.arch to the names the profile's arch filters use (Go/libseccomp style). */
export const NODE_TO_GOARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  ia32: 'x86',
  arm: 'arm',
  s390x: 's390x',
  ppc64: 'ppc64le',
  riscv64: 'riscv64',
};
const GOARCH_TO_SCMP: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  x86: 'SCMP_ARCH_X86',
  arm: 'SCMP_ARCH_ARM',
  s390x: 'SCMP_ARCH_S390X',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
};

export interface SeccompTarget {
  /** The container's bounding capabilities (CAP_*), which select the cap-dependent rules. */
  bounding: readonly string[];
  /** Node's `process.arch` of the host. */
  arch: string;
  /**
   * Allow only the host's own syscall ABI, not its compat ones (x86 and x32 on amd64, arm on arm64).
   * Every extra architecture makes libseccomp compile the whole filter again inside `runc init`:
   * on these machines the three x86 ABIs cost 12 ms of each container start (31 ms vs 19 ms for
   * `runc run` of `true`). A native image never makes a compat syscall; the default profile of an
   * image built for a compat ABI (linux/386 on amd64) keeps them, and so does a user's own profile.
   */
  nativeOnly?: boolean;
}

/** Converts a profile to the OCI form for one container, like containers/common's setupSeccomp. */
export function seccompToOci(profile: SeccompProfile, target: SeccompTarget): OciSeccomp {
  const arch = NODE_TO_GOARCH[target.arch] ?? target.arch;
  const native = GOARCH_TO_SCMP[arch];
  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const architectures: string[] = [...(profile.architectures ?? [])];
  for (const m of profile.archMap ?? []) {
    if (m.architecture === native) {
      architectures.push(m.architecture, ...(target.nativeOnly ? [] : m.subArchitectures));
      break;
    }
  }
  if (architectures.length) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  const has = (c: string): boolean => target.bounding.includes(c);
  const syscalls: OciSyscall[] = [];
  for (const call of profile.syscalls) {
    const exc = call.excludes;
    const inc = call.includes;
    if (exc?.arches?.includes(arch)) continue;
    if (exc?.caps?.some(has)) continue;
    if (inc?.arches?.length && !inc.arches.includes(arch)) continue;
    if (inc?.caps?.length && !inc.caps.every(has)) continue;
    const s: OciSyscall = { names: [...call.names], action: call.action };
    if (call.errnoRet !== undefined) s.errnoRet = call.errnoRet;
    if (call.args?.length) s.args = call.args.map((a) => ({ ...a }));
    syscalls.push(s);
  }
  out.syscalls = syscalls;
  return out;
}
