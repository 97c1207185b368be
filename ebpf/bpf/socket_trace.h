/* Record layout shared by socket_trace.bpf.c and the Rust decoder (ebpf/src/event.rs).
 * Every field sits at a naturally aligned offset with no implicit padding, so the
 * layout is the same for the BPF target and for x86_64/aarch64 user space.
 * Changing anything here means changing event.rs and bumping nothing else: the object
 * file and the decoder are built from the same commit. */
#ifndef CORMORANT_SOCKET_TRACE_H
#define CORMORANT_SOCKET_TRACE_H

/* Upper bound for the configurable payload capture; user space rejects larger values. */
#define MAX_PAYLOAD_BYTES 8192

enum event_kind {
	EVENT_KIND_DATA = 0,
	EVENT_KIND_CONNECT = 1,
	EVENT_KIND_ACCEPT = 2,
	EVENT_KIND_CLOSE = 3,
	EVENT_KIND_EXEC = 4, /* payload: executable path, NUL, argv as /proc/<pid>/cmdline has it */
	EVENT_KIND_EXIT = 5, /* the whole process ended; no payload */
};

enum direction {
	DIRECTION_EGRESS = 0,
	DIRECTION_INGRESS = 1,
};

enum socket_role {
	ROLE_UNKNOWN = 0,
	ROLE_CLIENT = 1,
	ROLE_SERVER = 2,
};

enum traced_syscall {
	SYSCALL_READ = 0,
	SYSCALL_WRITE = 1,
	SYSCALL_READV = 2,
	SYSCALL_WRITEV = 3,
	SYSCALL_SENDTO = 4,
	SYSCALL_RECVFROM = 5,
	SYSCALL_SENDMSG = 6,
	SYSCALL_RECVMSG = 7,
	SYSCALL_SENDMMSG = 8,
	SYSCALL_RECVMMSG = 9,
	SYSCALL_CONNECT = 10,
	SYSCALL_ACCEPT = 11,
	SYSCALL_ACCEPT4 = 12,
	SYSCALL_CLOSE = 13,
};

/* Upper bound for an exec record's payload (path and argv), below payload_bytes if that is
 * larger. */
#define MAX_EXEC_PAYLOAD_BYTES 4096

/* Fixed-size part of every ring buffer record; `payload_len` payload bytes follow it.
 * Process events (exec, exit) fill the timestamp, ids, cgroup and comm; their socket fields
 * are zero. */
struct socket_event {
	__u64 timestamp_ns; /* CLOCK_MONOTONIC: entry time for sends, exit time for receives */
	__u64 cgroup_id;
	__s64 bytes;        /* syscall return value: bytes moved (data) or the new fd (accept) */
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 tcp_seq;      /* TCP sequence of the first byte moved (derived at exit); 0 if not TCP */
	__u32 payload_len;
	__u16 family;       /* AF_INET or AF_INET6 */
	__u16 local_port;   /* host byte order */
	__u16 remote_port;  /* host byte order */
	__u8 kind;          /* enum event_kind */
	__u8 direction;     /* enum direction (data events) */
	__u8 role;          /* enum socket_role */
	__u8 syscall;       /* enum traced_syscall */
	__u8 protocol;      /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 reserved;
	__u8 local_addr[16];  /* IPv4 in the first 4 bytes, network byte order */
	__u8 remote_addr[16];
	char comm[16];
};

#endif
