// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Socket tracer: syscall tracepoints only (no kprobes), CO-RE field access.
 *
 * Entry programs find the socket behind the fd (dropping every non-socket fd right
 * there, so file I/O costs one table walk and nothing more), read the TCP sequence and
 * stash the call per thread. Exit programs turn a successful call into one ring buffer
 * record: fixed header plus the first `payload_bytes` bytes the call moved. */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "socket_trace.h"

/* Set by the loader before the object is loaded (read-only data, frozen afterwards). */
const volatile __u32 payload_bytes = 1024;
const volatile __u32 self_tgid = 0;
/* Which include lists user space filled (FILTER_*_INCLUDED bits); an empty list includes all. */
const volatile __u32 filter_flags = 0;

/* Filtering here, before any socket lookup or copy, keeps unrelated processes and ports from
 * costing kernel time and ring buffer space at all. Map values are FILTER_INCLUDE or
 * FILTER_EXCLUDE. */
#define FILTER_INCLUDE 1
#define FILTER_EXCLUDE 2
#define FILTER_PIDS_INCLUDED 1
#define FILTER_COMMS_INCLUDED 2
#define FILTER_PORTS_INCLUDED 4
#define FILTER_PORTS_LISTED 8
#define FILTER_PIDS_LISTED 16
#define FILTER_COMMS_LISTED 32

/* How the user buffer of a call is described. */
enum buffer_shape {
	BUFFER_PLAIN = 0,   /* (fd, buf, len) */
	BUFFER_IOVEC = 1,   /* (fd, iov, iovcnt) */
	BUFFER_MSGHDR = 2,  /* (fd, msghdr, flags) */
	BUFFER_MMSGHDR = 3, /* (fd, mmsghdr vector, vlen, flags) */
};

/* A call seen at entry, completed at exit; keyed by pid_tgid (one syscall per thread). */
struct pending_call {
	__u64 entry_ns;
	__u64 sock;      /* struct sock *, 0 for connect/close bookkeeping */
	__u64 buffer;    /* user pointer described by `shape` */
	__u64 peer_addr; /* user sockaddr pointer of sendto/recvfrom, 0 otherwise */
	__s32 fd;
	__u32 tcp_seq;
	__u8 syscall;
	__u8 shape;
	__u8 direction;
	__u8 reserved[5];
};

struct socket_key {
	__u32 tgid;
	__s32 fd;
};

/* The event under construction: too large for the 512-byte BPF stack. */
struct event_buffer {
	struct socket_event header;
	/* Twice the largest capture, so that the verifier can prove a segment copied at any
	 * offset below MAX_PAYLOAD_BYTES with any length up to MAX_PAYLOAD_BYTES stays inside;
	 * only the first payload_len bytes are ever sent. */
	__u8 payload[2 * MAX_PAYLOAD_BYTES];
};

/* Vectored calls (writev, sendmsg, ...): how many leading segments are captured. dig sends a
 * DNS-over-TCP query as [2-byte length, message]; nginx writes headers and body apart. */
#define MAX_CAPTURED_SEGMENTS 4

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending_call);
} pending_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct socket_key);
	__type(value, __u8);
} socket_roles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_buffer);
} event_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[16]);
	__type(value, __u8);
} comm_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} port_filter SEC(".maps");

/* Whether a listed item passes: excluded never, and when its include list is in use only if
 * it is on it. */
static __always_inline bool passes(const __u8 *verdict, __u32 included_flag)
{
	if (verdict && *verdict == FILTER_EXCLUDE)
		return false;
	if ((filter_flags & included_flag) && !(verdict && *verdict == FILTER_INCLUDE))
		return false;
	return true;
}

/* Whether the calling thread's process is not traced: Cormorant itself, or filtered out by
 * pid or comm. Runs on every hooked call, so a list nobody filled costs no lookup. */
static __always_inline bool untraced(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;

	if (tgid == self_tgid)
		return true;
	if ((filter_flags & FILTER_PIDS_LISTED) &&
	    !passes(bpf_map_lookup_elem(&pid_filter, &tgid), FILTER_PIDS_INCLUDED))
		return true;
	if (!(filter_flags & FILTER_COMMS_LISTED))
		return false;
	char comm[16] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	return !passes(bpf_map_lookup_elem(&comm_filter, comm), FILTER_COMMS_INCLUDED);
}

/* The port filter: a socket passes when neither port is excluded and, with an include list,
 * one of them is on it. A socket with no peer yet (unconnected UDP) is judged by user space,
 * which sees the peer of each datagram. */
static __always_inline bool ports_pass(struct sock *sk)
{
	if (!(filter_flags & (FILTER_PORTS_INCLUDED | FILTER_PORTS_LISTED)))
		return true;
	__u16 local = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 remote = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (remote == 0)
		return true;
	__u8 *local_verdict = bpf_map_lookup_elem(&port_filter, &local);
	__u8 *remote_verdict = bpf_map_lookup_elem(&port_filter, &remote);
	if ((local_verdict && *local_verdict == FILTER_EXCLUDE) ||
	    (remote_verdict && *remote_verdict == FILTER_EXCLUDE))
		return false;
	if (!(filter_flags & FILTER_PORTS_INCLUDED))
		return true;
	return (local_verdict && *local_verdict == FILTER_INCLUDE) ||
	       (remote_verdict && *remote_verdict == FILTER_INCLUDE);
}

/* The inet socket behind `fd` of the current task, or NULL for anything else
 * (regular files, pipes, unix sockets, netlink, closed fds). */
static __always_inline struct sock *inet_sock_of_fd(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0 || !fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *socket = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(socket, sk);
	if (!sk)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	return sk;
}

static __always_inline __u32 tcp_seq_of(struct sock *sk, __u8 direction)
{
	struct tcp_sock *tcp = (struct tcp_sock *)sk;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (direction == DIRECTION_EGRESS)
		return BPF_CORE_READ(tcp, write_seq);
	return BPF_CORE_READ(tcp, copied_seq);
}

static __always_inline struct event_buffer *start_event(__u64 pid_tgid, __s32 fd, __u8 kind,
							 __u8 syscall)
{
	__u32 zero = 0;
	struct event_buffer *event = bpf_map_lookup_elem(&event_scratch, &zero);

	if (!event)
		return NULL;
	__builtin_memset(&event->header, 0, sizeof(event->header));
	event->header.tgid = pid_tgid >> 32;
	event->header.tid = (__u32)pid_tgid;
	event->header.fd = fd;
	event->header.kind = kind;
	event->header.syscall = syscall;
	event->header.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(event->header.comm, sizeof(event->header.comm));

	struct socket_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	__u8 *role = bpf_map_lookup_elem(&socket_roles, &key);
	if (role)
		event->header.role = *role;
	return event;
}

static __always_inline void fill_tuple(struct socket_event *header, struct sock *sk)
{
	header->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	header->protocol = (__u8)BPF_CORE_READ(sk, sk_protocol);
	header->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	header->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (header->family == AF_INET) {
		__be32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(header->local_addr, &local, sizeof(local));
		__builtin_memcpy(header->remote_addr, &remote, sizeof(remote));
	} else {
		BPF_CORE_READ_INTO(&header->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&header->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/* Unconnected UDP sockets (DNS servers, some resolvers) have no remote address on the
 * socket: take it from the sockaddr the call passed or filled in. */
static __always_inline void fill_peer_from_sockaddr(struct socket_event *header, const void *addr)
{
	__u16 family = 0;

	if (!addr || header->remote_port != 0)
		return;
	if (bpf_probe_read_user(&family, sizeof(family), addr) || family != header->family)
		return;
	if (family == AF_INET) {
		struct sockaddr_in in = {};
		if (bpf_probe_read_user(&in, sizeof(in), addr))
			return;
		header->remote_port = bpf_ntohs(in.sin_port);
		__builtin_memcpy(header->remote_addr, &in.sin_addr, sizeof(in.sin_addr));
	} else {
		struct sockaddr_in6 in6 = {};
		if (bpf_probe_read_user(&in6, sizeof(in6), addr))
			return;
		header->remote_port = bpf_ntohs(in6.sin6_port);
		__builtin_memcpy(header->remote_addr, in6.sin6_addr, sizeof(in6.sin6_addr));
	}
}

static __always_inline void submit(struct event_buffer *event)
{
	__u32 length = event->header.payload_len;

	if (length > MAX_PAYLOAD_BYTES)
		length = MAX_PAYLOAD_BYTES;
	if (bpf_ringbuf_output(&events, event, sizeof(event->header) + length, 0)) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&lost_events, &zero);
		if (lost)
			*lost += 1;
	}
}

static __always_inline void stash(__u64 pid_tgid, __s32 fd, __u8 syscall, __u8 shape,
				  __u8 direction, __u64 buffer, __u64 peer_addr)
{
	if (untraced(pid_tgid))
		return;
	struct sock *sk = inet_sock_of_fd(fd);
	if (!sk || !ports_pass(sk))
		return;
	struct pending_call call = {
		.entry_ns = bpf_ktime_get_ns(),
		.sock = (__u64)sk,
		.buffer = buffer,
		.peer_addr = peer_addr,
		.fd = fd,
		.tcp_seq = tcp_seq_of(sk, direction),
		.syscall = syscall,
		.shape = shape,
		.direction = direction,
	};
	bpf_map_update_elem(&pending_calls, &pid_tgid, &call, BPF_ANY);
}

/* Copies up to `available` bytes from `source` after what the event already holds, never past
 * min(payload_bytes, MAX_PAYLOAD_BYTES) in total. */
static __always_inline void append_payload(struct event_buffer *event, const void *source,
					   __u64 available)
{
	__u64 limit = payload_bytes < MAX_PAYLOAD_BYTES ? payload_bytes : MAX_PAYLOAD_BYTES;
	__u64 offset = event->header.payload_len;

	if (!source || offset >= limit)
		return;
	__u64 length = available < limit - offset ? available : limit - offset;
	offset &= MAX_PAYLOAD_BYTES - 1;
	if (length > MAX_PAYLOAD_BYTES)
		length = MAX_PAYLOAD_BYTES;
	if (length == 0)
		return;
	if (bpf_probe_read_user(event->payload + offset, length, source) == 0)
		event->header.payload_len = offset + length;
}

/* Copies the leading segments of an iovec array, up to `total` bytes (what the call moved). */
static __always_inline void capture_segments(struct event_buffer *event, const struct iovec *vector,
					     __u64 count, __u64 total)
{
	for (int index = 0; index < MAX_CAPTURED_SEGMENTS; index++) {
		struct iovec segment = {};
		if (index >= count || total == 0)
			break;
		if (bpf_probe_read_user(&segment, sizeof(segment), &vector[index]))
			break;
		__u64 length = segment.iov_len < total ? segment.iov_len : total;
		append_payload(event, segment.iov_base, length);
		total -= length;
	}
}

/* Captures the call's data: `ret` bytes from a plain buffer, an iovec array or a message
 * header's iovec array; for sendmmsg/recvmmsg the first message only, whose length replaces
 * `*bytes` (their return value counts messages). Fills the peer address from the message header
 * where there is one. */
static __always_inline void capture_call_data(struct event_buffer *event,
					      const struct pending_call *call, __s64 ret,
					      __s64 *bytes)
{
	const struct user_msghdr *msg = (const void *)call->buffer;
	const void *peer_addr = (const void *)call->peer_addr;

	*bytes = ret;
	switch (call->shape) {
	case BUFFER_PLAIN:
		append_payload(event, (const void *)call->buffer, (__u64)ret);
		break;
	case BUFFER_IOVEC:
		/* The iovec count was not kept: read up to the limit, bounded by `ret`. */
		capture_segments(event, (const void *)call->buffer, MAX_CAPTURED_SEGMENTS,
				 (__u64)ret);
		break;
	case BUFFER_MMSGHDR: {
		const struct mmsghdr *vector = (const void *)call->buffer;
		unsigned int first_length = 0;
		if (bpf_probe_read_user(&first_length, sizeof(first_length), &vector->msg_len))
			break;
		*bytes = first_length;
		msg = &vector->msg_hdr;
	}
		/* fall through */
	case BUFFER_MSGHDR: {
		struct user_msghdr header = {};
		if (bpf_probe_read_user(&header, sizeof(header), msg) || header.msg_iovlen == 0)
			break;
		peer_addr = header.msg_name;
		capture_segments(event, header.msg_iov, header.msg_iovlen, (__u64)*bytes);
		break;
	}
	default:
		break;
	}
	fill_peer_from_sockaddr(&event->header, peer_addr);
}

/* `syscall` guards against an entry left behind by a thread that never reached the
 * exit of its call (killed mid-syscall) being paired with an unrelated exit. */
static __always_inline void complete_data(struct syscall_exit_ctx *ctx, __u8 syscall)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_call *call = bpf_map_lookup_elem(&pending_calls, &pid_tgid);

	if (!call)
		return;
	__s64 ret = ctx->ret;
	struct pending_call copy = *call;
	bpf_map_delete_elem(&pending_calls, &pid_tgid);
	if (ret <= 0 || copy.syscall != syscall)
		return;

	struct event_buffer *event = start_event(pid_tgid, copy.fd, EVENT_KIND_DATA, copy.syscall);
	if (!event)
		return;
	event->header.direction = copy.direction;
	event->header.timestamp_ns =
		copy.direction == DIRECTION_EGRESS ? copy.entry_ns : bpf_ktime_get_ns();
	event->header.tcp_seq = copy.tcp_seq;
	fill_tuple(&event->header, (struct sock *)copy.sock);

	__s64 bytes = ret;
	capture_call_data(event, &copy, ret, &bytes);
	event->header.bytes = bytes;
	submit(event);
}

/* Emits a connection event (connect, accept, close) for `fd` if it is an inet socket. */
static __always_inline void emit_connection(__u64 pid_tgid, __s32 fd, __u8 kind, __u8 syscall,
					    __s64 ret)
{
	struct sock *sk = inet_sock_of_fd(fd);
	if (!sk || !ports_pass(sk))
		return;
	struct event_buffer *event = start_event(pid_tgid, fd, kind, syscall);
	if (!event)
		return;
	event->header.timestamp_ns = bpf_ktime_get_ns();
	event->header.bytes = ret;
	fill_tuple(&event->header, sk);
	submit(event);
}

static __always_inline void remember_role(__u64 pid_tgid, __s32 fd, __u8 role)
{
	struct socket_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	bpf_map_update_elem(&socket_roles, &key, &role, BPF_ANY);
}

#define TRACE_DATA_CALL(name, syscall_id, shape, direction, peer_arg)                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                            \
	int enter_##name(struct syscall_enter_ctx *ctx)                                        \
	{                                                                                      \
		stash(bpf_get_current_pid_tgid(), (__s32)ctx->args[0], syscall_id, shape,     \
		      direction, ctx->args[1], peer_arg);                                      \
		return 0;                                                                      \
	}                                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                             \
	int exit_##name(struct syscall_exit_ctx *ctx)                                          \
	{                                                                                      \
		complete_data(ctx, syscall_id);                                                \
		return 0;                                                                      \
	}

TRACE_DATA_CALL(read, SYSCALL_READ, BUFFER_PLAIN, DIRECTION_INGRESS, 0)
TRACE_DATA_CALL(write, SYSCALL_WRITE, BUFFER_PLAIN, DIRECTION_EGRESS, 0)
TRACE_DATA_CALL(readv, SYSCALL_READV, BUFFER_IOVEC, DIRECTION_INGRESS, 0)
TRACE_DATA_CALL(writev, SYSCALL_WRITEV, BUFFER_IOVEC, DIRECTION_EGRESS, 0)
TRACE_DATA_CALL(sendto, SYSCALL_SENDTO, BUFFER_PLAIN, DIRECTION_EGRESS, ctx->args[4])
TRACE_DATA_CALL(recvfrom, SYSCALL_RECVFROM, BUFFER_PLAIN, DIRECTION_INGRESS, ctx->args[4])
TRACE_DATA_CALL(sendmsg, SYSCALL_SENDMSG, BUFFER_MSGHDR, DIRECTION_EGRESS, 0)
TRACE_DATA_CALL(recvmsg, SYSCALL_RECVMSG, BUFFER_MSGHDR, DIRECTION_INGRESS, 0)
TRACE_DATA_CALL(sendmmsg, SYSCALL_SENDMMSG, BUFFER_MMSGHDR, DIRECTION_EGRESS, 0)
TRACE_DATA_CALL(recvmmsg, SYSCALL_RECVMMSG, BUFFER_MMSGHDR, DIRECTION_INGRESS, 0)

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct syscall_enter_ctx *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (untraced(pid_tgid))
		return 0;
	struct pending_call call = { .fd = (__s32)ctx->args[0], .syscall = SYSCALL_CONNECT };
	bpf_map_update_elem(&pending_calls, &pid_tgid, &call, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct syscall_exit_ctx *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_call *call = bpf_map_lookup_elem(&pending_calls, &pid_tgid);

	if (!call)
		return 0;
	__s32 fd = call->fd;
	__u8 syscall = call->syscall;
	bpf_map_delete_elem(&pending_calls, &pid_tgid);
	if (syscall != SYSCALL_CONNECT)
		return 0;
	/* Non-blocking connects report EINPROGRESS; the tuple is already bound. */
	if (ctx->ret != 0 && ctx->ret != -EINPROGRESS)
		return 0;
	remember_role(pid_tgid, fd, ROLE_CLIENT);
	emit_connection(pid_tgid, fd, EVENT_KIND_CONNECT, SYSCALL_CONNECT, ctx->ret);
	return 0;
}

static __always_inline void complete_accept(struct syscall_exit_ctx *ctx, __u8 syscall)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__s64 fd = ctx->ret;

	if (fd < 0 || untraced(pid_tgid))
		return;
	remember_role(pid_tgid, (__s32)fd, ROLE_SERVER);
	emit_connection(pid_tgid, (__s32)fd, EVENT_KIND_ACCEPT, syscall, fd);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct syscall_exit_ctx *ctx)
{
	complete_accept(ctx, SYSCALL_ACCEPT);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct syscall_exit_ctx *ctx)
{
	complete_accept(ctx, SYSCALL_ACCEPT4);
	return 0;
}

/* At entry the fd still resolves to its socket: report the tuple, then forget the role
 * so a later socket reusing the fd number starts unknown. */
SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct syscall_enter_ctx *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__s32 fd = (__s32)ctx->args[0];

	if (untraced(pid_tgid))
		return 0;
	emit_connection(pid_tgid, fd, EVENT_KIND_CLOSE, SYSCALL_CLOSE, 0);
	struct socket_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	bpf_map_delete_elem(&socket_roles, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
