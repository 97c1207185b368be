/* The few kernel types the socket tracer reads, declared with preserve_access_index so
 * that every field access is a CO-RE relocation resolved against the running kernel's
 * BTF at load time. Only the members used are listed: their offsets here do not matter,
 * their names and nesting do (anonymous unions mirror the kernel's so any loader's
 * member matching finds them). This replaces a generated vmlinux.h of several MB. */
#ifndef CORMORANT_KERNEL_TYPES_H
#define CORMORANT_KERNEL_TYPES_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
/* Named in bpf_helper_defs.h prototypes. */
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

/* Map type ids from include/uapi/linux/bpf.h (stable ABI). */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
};

enum { BPF_ANY = 0 };
enum { BPF_F_NO_PREALLOC = 1 };
enum { BPF_LOCAL_STORAGE_GET_F_CREATE = 1 };

/* Ring buffer flags and queries from include/uapi/linux/bpf.h (stable ABI). */
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum { BPF_RB_AVAIL_DATA = 0 };

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
#define MSG_PEEK 2
/* enum sock_flags: set by tcp_fin() when the peer's FIN arrived. */
#define SOCK_DONE 1

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
};

struct file {
	void *private_data;
	struct inode *f_inode;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

/* The argument area lives in an anonymous struct, as in the kernel. */
struct mm_struct {
	struct {
		unsigned long arg_start;
		unsigned long arg_end;
	};
};

struct task_struct {
	struct files_struct *files;
	struct mm_struct *mm;
	char comm[16];
};

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} in6_u;
};

struct sock_common {
	union {
		__u64 skc_addrpair;
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		__u32 skc_portpair;
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	union {
		unsigned long skc_flags; /* sk_flags */
	};
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
};

struct socket {
	struct sock *sk;
};

struct tcp_sock {
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 write_seq;
};

#pragma clang attribute pop

/* User-space ABI structs: fixed layout, read with bpf_probe_read_user, no relocation. */
struct iovec {
	void *iov_base;
	unsigned long iov_len;
};

struct user_msghdr {
	void *msg_name;
	int msg_namelen;
	struct iovec *msg_iov;
	unsigned long msg_iovlen;
	void *msg_control;
	unsigned long msg_controllen;
	unsigned int msg_flags;
};

struct mmsghdr {
	struct user_msghdr msg_hdr;
	unsigned int msg_len;
};

struct sockaddr_in {
	__u16 sin_family;
	__be16 sin_port;
	__be32 sin_addr;
	__u8 sin_zero[8];
};

struct sockaddr_in6 {
	__u16 sin6_family;
	__be16 sin6_port;
	__be32 sin6_flowinfo;
	__u8 sin6_addr[16];
	__u32 sin6_scope_id;
};

/* Layout of every syscalls:sys_enter_* / sys_exit_* tracepoint record
 * (see /sys/kernel/tracing/events/syscalls/sys_enter_read/format). */
struct syscall_enter_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 args[6];
};

struct syscall_exit_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__s64 ret;
};

/* sched:sched_process_exec (see /sys/kernel/tracing/events/sched/sched_process_exec/format). */
struct sched_process_exec_ctx {
	__u64 common;
	__u32 filename_loc; /* __data_loc: record offset in the low 16 bits, length in the high 16 */
	__s32 pid;
	__s32 old_pid;
};

#endif
