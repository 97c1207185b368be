// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Socket tracer: syscall tracepoints only (no kprobes), CO-RE field access; plus exec and
 * exit of processes from sched tracepoints.
 *
 * Entry programs only stash the call's arguments in task-local storage (after the pid and
 * comm filters). Exit programs do the socket work, and only for calls that moved data: a read
 * that ends in EAGAIN costs two storage lookups. The fd resolves to its socket through
 * a per-(process, fd) cache validated against the fd table, and the TCP sequence of the first
 * byte is derived from the socket's sequence at exit minus the bytes moved. A successful call
 * becomes one ring buffer record: fixed header plus the first `payload_bytes` bytes moved. */
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
/* Unread ring buffer bytes from which a record wakes the reader (set by the loader to a
 * quarter of the ring). Otherwise records are written silently (but see wakeup_flags) and user
 * space drains the ring on a short timer: a wakeup is an irq_work self-IPI (a VM exit under
 * virtualisation) plus a context switch, which used to be the largest single cost of every
 * record. */
const volatile __u64 wakeup_threshold = 1 << 20;

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

/* A call seen at entry, completed at exit; one per thread (a thread is in one syscall at a
 * time). */
struct pending_call {
	__u64 entry_ns;
	__u64 buffer;    /* user pointer described by `shape` */
	__u64 peer_addr; /* user sockaddr pointer of sendto/recvfrom, 0 otherwise */
	__s32 fd;
	__u8 syscall;    /* enum traced_syscall, or NO_PENDING_CALL once completed */
	__u8 shape;
	__u8 direction;
	__u8 peek;       /* MSG_PEEK: the receive left copied_seq where it was */
};

/* `pending_call.syscall` of a thread with no call in flight. */
#define NO_PENDING_CALL 0xff

/* What the programs keep per thread. */
struct thread_state {
	struct pending_call call;
	__u64 comm[2];  /* the comm the filter verdict below was reached for */
	__u8 judged;    /* `untraced` holds a verdict for `comm` */
	__u8 untraced;
	__u8 reserved[6];
};

struct socket_key {
	__u32 tgid;
	__s32 fd;
};

/* What the exit programs need to know about the socket behind a (process, fd). Valid while
 * the fd table still holds the same `struct file` for the same socket inode: the inode
 * number, unique per socket, guards against a freed file's address being reused. */
struct socket_info {
	__u64 file;  /* struct file * */
	__u64 sock;  /* struct sock * */
	__u64 inode; /* i_ino of the socket inode */
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u16 family;
	__u16 local_port;
	__u16 remote_port;
	__u8 protocol;
	__u8 role;   /* enum socket_role */
	__u8 traced; /* the port filter's verdict */
	__u8 reserved[7];
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
/* sendmmsg/recvmmsg on TCP: the sequence of the first byte is derived when the call moved at
 * most this many messages (their lengths are summed); beyond it the event carries 0. */
#define MAX_SEQUENCED_MESSAGES 8

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

/* Minimum time between two timed reader wakeups: at most 100 per second under load, the
 * pace of the reader's own drain timer. A client that exits within that time is described
 * from its exec record (the receiver's process cache), so no faster wakeup is needed. */
#define WAKEUP_INTERVAL_NS 10000000

/* When the reader was last woken by a timed wakeup (CLOCK_MONOTONIC ns), shared by all CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_wakeup SEC(".maps");

/* Task-local storage: the slot lives in the thread's task_struct, so entry and exit reach it
 * without hashing or locking, and it goes away with the thread; an exit marks the pending call
 * done instead of deleting it. Measured cheaper than a preallocated hash (update at entry,
 * lookup and delete at exit). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* LRU: a process that exits (or execs, or uses close_range) drops its fds without a close
 * call, so entries can go stale and must be evictable. Lookups dominate; an entry is written
 * once per connection. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct socket_key);
	__type(value, struct socket_info);
} sockets SEC(".maps");

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

/* The thread's comm, read straight from its task_struct: a BTF pointer load is far cheaper
 * than the bpf_get_current_comm helper, which runs on nearly every hooked call. */
static __always_inline void current_comm(char comm[16])
{
	struct task_struct *task = bpf_get_current_task_btf();

	__builtin_memcpy(comm, task->comm, 16);
}

/* Whether the pid or comm filters leave the calling thread out. */
static __always_inline bool filtered_out(__u64 pid_tgid, const char *comm)
{
	__u32 tgid = pid_tgid >> 32;

	if ((filter_flags & FILTER_PIDS_LISTED) &&
	    !passes(bpf_map_lookup_elem(&pid_filter, &tgid), FILTER_PIDS_INCLUDED))
		return true;
	return (filter_flags & FILTER_COMMS_LISTED) &&
	       !passes(bpf_map_lookup_elem(&comm_filter, comm), FILTER_COMMS_INCLUDED);
}

/* Whether the calling thread's process is not traced: Cormorant itself, or filtered out by
 * pid or comm. Runs on every hooked call, so a list nobody filled costs no lookup. */
static __always_inline bool untraced(__u64 pid_tgid)
{
	if ((pid_tgid >> 32) == self_tgid)
		return true;
	if (!(filter_flags & (FILTER_PIDS_LISTED | FILTER_COMMS_LISTED)))
		return false;
	char comm[16];
	current_comm(comm);
	return filtered_out(pid_tgid, comm);
}

/* untraced() for the thread owning `thread`: the pid and comm verdict is kept with the comm it
 * was reached for, so the filter lookups run once per thread and comm (exec and prctl change
 * it) instead of on every call. */
static __always_inline bool thread_untraced(__u64 pid_tgid, struct thread_state *thread)
{
	__u64 comm[2];

	if ((pid_tgid >> 32) == self_tgid)
		return true;
	if (!(filter_flags & (FILTER_PIDS_LISTED | FILTER_COMMS_LISTED)))
		return false;
	current_comm((char *)comm);
	if (thread->judged && thread->comm[0] == comm[0] && thread->comm[1] == comm[1])
		return thread->untraced;
	thread->untraced = filtered_out(pid_tgid, (const char *)comm);
	thread->comm[0] = comm[0];
	thread->comm[1] = comm[1];
	thread->judged = 1;
	return thread->untraced;
}

/* The port filter: a socket passes when neither port is excluded and, with an include list,
 * one of them is on it. A socket with no peer yet (unconnected UDP) is judged by user space,
 * which sees the peer of each datagram. */
static __always_inline bool ports_pass(__u16 local, __u16 remote)
{
	if (!(filter_flags & (FILTER_PORTS_INCLUDED | FILTER_PORTS_LISTED)))
		return true;
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

/* The `struct file` behind `fd` of the current task, or NULL (closed or out of range). */
static __always_inline struct file *file_of_fd(__s32 fd)
{
	/* Plain loads through the BTF task pointer (the verifier makes them fault-safe) up to
	 * the fd array, whose slot it cannot type, so that one is read with the helper. */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;

	if (fd < 0 || !fdt || (__u32)fd >= fdt->max_fds)
		return NULL;
	struct file **fds = fdt->fd;
	if (bpf_core_read(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/* Reads the socket's addresses, ports, protocol and port verdict into `info`; false when it
 * is not an inet socket. */
static __always_inline bool resolve_socket(struct file *file, struct socket_info *info)
{
	struct socket *socket = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(socket, sk);

	if (!sk)
		return false;
	info->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (info->family != AF_INET && info->family != AF_INET6)
		return false;
	info->file = (__u64)file;
	info->sock = (__u64)sk;
	info->protocol = (__u8)BPF_CORE_READ(sk, sk_protocol);
	info->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	info->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (info->family == AF_INET) {
		__be32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(info->local_addr, &local, sizeof(local));
		__builtin_memcpy(info->remote_addr, &remote, sizeof(remote));
	} else {
		BPF_CORE_READ_INTO(&info->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&info->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	info->traced = ports_pass(info->local_port, info->remote_port);
	return true;
}

/* How socket_of uses the socket cache. */
enum cache_use {
	CACHE_READ_FILL = 0, /* data calls: use a valid entry, fill it on a miss */
	CACHE_READ = 1,      /* close: use a valid entry, fill nothing (it is dropped next) */
	CACHE_REFILL = 2,    /* connect, accept: read the socket and replace the entry, since
			      * connect changes the tuple and both set the role */
};

/* The inet socket behind `fd` of the current process, from the cache when the fd table still
 * holds the cached file and socket inode, read from the socket otherwise. A socket read afresh
 * gets `role` (unknown for data calls: the fd is new to us or was reused). False for anything
 * but an inet socket (files, pipes, unix sockets, closed fds). */
static __always_inline bool socket_of(__u64 pid_tgid, __s32 fd, enum cache_use use, __u8 role,
				      struct socket_info *info)
{
	struct file *file = file_of_fd(fd);
	if (!file)
		return false;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return false;
	__u64 inode_number = BPF_CORE_READ(inode, i_ino);
	struct socket_key key = { .tgid = pid_tgid >> 32, .fd = fd };

	if (use != CACHE_REFILL) {
		struct socket_info *cached = bpf_map_lookup_elem(&sockets, &key);
		if (cached && cached->file == (__u64)file && cached->inode == inode_number) {
			*info = *cached;
			return true;
		}
	}
	__builtin_memset(info, 0, sizeof(*info));
	if (!resolve_socket(file, info))
		return false;
	info->inode = inode_number;
	info->role = role;
	if (use != CACHE_READ)
		bpf_map_update_elem(&sockets, &key, info, BPF_ANY);
	return true;
}

/* The CPU's scratch record with the header zeroed and what every record carries filled in:
 * kind, thread, process, cgroup and comm. */
static __always_inline struct event_buffer *start_record(__u64 pid_tgid, __u8 kind)
{
	__u32 zero = 0;
	struct event_buffer *event = bpf_map_lookup_elem(&event_scratch, &zero);

	if (!event)
		return NULL;
	struct socket_event *header = &event->header;
	__builtin_memset(header, 0, sizeof(*header));
	header->tgid = pid_tgid >> 32;
	header->tid = (__u32)pid_tgid;
	header->kind = kind;
	header->cgroup_id = bpf_get_current_cgroup_id();
	current_comm(header->comm);
	return event;
}

static __always_inline struct event_buffer *start_event(__u64 pid_tgid, __s32 fd, __u8 kind,
							 __u8 syscall,
							 const struct socket_info *info)
{
	struct event_buffer *event = start_record(pid_tgid, kind);

	if (!event)
		return NULL;
	struct socket_event *header = &event->header;
	header->fd = fd;
	header->syscall = syscall;
	header->role = info->role;
	header->family = info->family;
	header->protocol = info->protocol;
	header->local_port = info->local_port;
	header->remote_port = info->remote_port;
	__builtin_memcpy(header->local_addr, info->local_addr, sizeof(header->local_addr));
	__builtin_memcpy(header->remote_addr, info->remote_addr, sizeof(header->remote_addr));
	return event;
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

/* Wakes the reader when it has not been woken for WAKEUP_INTERVAL_NS (so sparse traffic,
 * a lone DNS query, reaches user space at once, while a busy host causes at most one wakeup
 * per interval instead of one per record) or when this record takes the unread data across
 * wakeup_threshold; every other record waits for the reader's drain timer. `now` is the
 * record's timestamp, which saves a clock read; the racy update of the shared slot can at
 * worst cost an extra wakeup. */
static __always_inline __u64 wakeup_flags(__u64 length, __u64 now)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&last_wakeup, &zero);
	__u64 unread = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	if (unread < wakeup_threshold && unread + length >= wakeup_threshold)
		return BPF_RB_FORCE_WAKEUP;
	if (last && (__s64)(now - *last) >= WAKEUP_INTERVAL_NS) {
		*last = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(struct event_buffer *event)
{
	__u32 length = event->header.payload_len;

	if (length > MAX_PAYLOAD_BYTES)
		length = MAX_PAYLOAD_BYTES;
	__u64 size = sizeof(event->header) + length;
	__u64 flags = wakeup_flags(size, event->header.timestamp_ns);
	if (bpf_ringbuf_output(&events, event, size, flags)) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&lost_events, &zero);
		if (lost)
			*lost += 1;
	}
}

/* Entry: nothing but the filters and the arguments; the socket is looked at only once the
 * call has moved data. */
static __always_inline void stash(__s32 fd, __u8 syscall, __u8 shape, __u8 direction,
				  __u64 buffer, __u64 peer_addr, __u64 flags)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (fd < 0 || (pid_tgid >> 32) == self_tgid)
		return;
	struct thread_state *thread = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
							   BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!thread || thread_untraced(pid_tgid, thread))
		return;
	struct pending_call *call = &thread->call;
	call->entry_ns = bpf_ktime_get_ns();
	call->buffer = buffer;
	call->peer_addr = peer_addr;
	call->fd = fd;
	call->syscall = syscall;
	call->shape = shape;
	call->direction = direction;
	call->peek = (flags & MSG_PEEK) != 0;
}

/* Takes the calling thread's pending call if it is of `syscall`, leaving the slot free. The
 * check guards against a call whose exit was never seen (the tracer attached mid-call) being
 * paired with an unrelated exit. */
static __always_inline bool take_pending(__u8 syscall, struct pending_call *out)
{
	struct thread_state *thread =
		bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);

	if (!thread || thread->call.syscall != syscall)
		return false;
	*out = thread->call;
	thread->call.syscall = NO_PENDING_CALL;
	return true;
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

/* Bytes moved by the first `count` messages of a sendmmsg/recvmmsg vector, or -1 when there
 * are more than MAX_SEQUENCED_MESSAGES or a length is unreadable. */
static __always_inline __s64 mmsg_total(const struct mmsghdr *vector, __s64 count)
{
	__s64 total = 0;

	if (count > MAX_SEQUENCED_MESSAGES)
		return -1;
	for (int index = 0; index < MAX_SEQUENCED_MESSAGES; index++) {
		unsigned int length = 0;
		if (index >= count)
			break;
		if (bpf_probe_read_user(&length, sizeof(length), &vector[index].msg_len))
			return -1;
		total += length;
	}
	return total;
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

/* The TCP sequence of the call's first byte, from the socket's sequence at exit: the send
 * advanced write_seq by the bytes it queued, the receive advanced copied_seq by the bytes it
 * consumed (a MSG_PEEK receive consumed none), plus one if it consumed the peer's FIN too.
 * 0 for UDP and when it cannot be known. */
static __always_inline __u32 first_byte_seq(const struct socket_info *info,
					    const struct pending_call *call, __s64 ret)
{
	struct sock *sk = (struct sock *)info->sock;
	struct tcp_sock *tcp = (struct tcp_sock *)info->sock;

	if (info->protocol != IPPROTO_TCP)
		return 0;
	__s64 moved = ret;
	if (call->shape == BUFFER_MMSGHDR)
		moved = mmsg_total((const void *)call->buffer, ret);
	if (moved < 0)
		return 0;
	if (call->direction == DIRECTION_EGRESS)
		return BPF_CORE_READ(tcp, write_seq) - (__u32)moved;
	__u32 copied = BPF_CORE_READ(tcp, copied_seq);
	if (call->peek)
		return copied;
	/* tcp_recvmsg counts a FIN it reaches in copied_seq, which then equals rcv_nxt; a FIN
	 * that arrived but was not reached leaves copied_seq one short of it. */
	if ((BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DONE)) &&
	    copied == BPF_CORE_READ(tcp, rcv_nxt))
		copied -= 1;
	return copied - (__u32)moved;
}

static __always_inline void complete_data(struct syscall_exit_ctx *ctx, __u8 syscall)
{
	struct pending_call call;
	__s64 ret = ctx->ret;

	if (!take_pending(syscall, &call) || ret <= 0)
		return;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	struct socket_info info;
	if (!socket_of(pid_tgid, call.fd, CACHE_READ_FILL, ROLE_UNKNOWN, &info) || !info.traced)
		return;
	/* Read right away: the longer after the kernel's update, the likelier another thread
	 * moved the sequence too. */
	__u32 tcp_seq = first_byte_seq(&info, &call, ret);
	struct event_buffer *event = start_event(pid_tgid, call.fd, EVENT_KIND_DATA, call.syscall,
						 &info);
	if (!event)
		return;
	event->header.direction = call.direction;
	event->header.timestamp_ns =
		call.direction == DIRECTION_EGRESS ? call.entry_ns : bpf_ktime_get_ns();
	event->header.tcp_seq = tcp_seq;

	__s64 bytes = ret;
	capture_call_data(event, &call, ret, &bytes);
	event->header.bytes = bytes;
	submit(event);
}

/* Emits a connection event (connect, accept, close) for a traced inet socket. */
static __always_inline void emit_connection(__u64 pid_tgid, __s32 fd, __u8 kind, __u8 syscall,
					    __s64 ret, const struct socket_info *info)
{
	if (!info->traced)
		return;
	struct event_buffer *event = start_event(pid_tgid, fd, kind, syscall, info);
	if (!event)
		return;
	event->header.timestamp_ns = bpf_ktime_get_ns();
	event->header.bytes = ret;
	submit(event);
}

#define TRACE_DATA_CALL(name, syscall_id, shape, direction, peer_arg, flags_arg)               \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                            \
	int enter_##name(struct syscall_enter_ctx *ctx)                                        \
	{                                                                                      \
		stash((__s32)ctx->args[0], syscall_id, shape, direction, ctx->args[1],         \
		      peer_arg, flags_arg);                                                    \
		return 0;                                                                      \
	}                                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                             \
	int exit_##name(struct syscall_exit_ctx *ctx)                                          \
	{                                                                                      \
		complete_data(ctx, syscall_id);                                                \
		return 0;                                                                      \
	}

/* Receive flags (for MSG_PEEK): recvfrom and recvmmsg take them as argument 3, recvmsg as 2. */
TRACE_DATA_CALL(read, SYSCALL_READ, BUFFER_PLAIN, DIRECTION_INGRESS, 0, 0)
TRACE_DATA_CALL(write, SYSCALL_WRITE, BUFFER_PLAIN, DIRECTION_EGRESS, 0, 0)
TRACE_DATA_CALL(readv, SYSCALL_READV, BUFFER_IOVEC, DIRECTION_INGRESS, 0, 0)
TRACE_DATA_CALL(writev, SYSCALL_WRITEV, BUFFER_IOVEC, DIRECTION_EGRESS, 0, 0)
TRACE_DATA_CALL(sendto, SYSCALL_SENDTO, BUFFER_PLAIN, DIRECTION_EGRESS, ctx->args[4], 0)
TRACE_DATA_CALL(recvfrom, SYSCALL_RECVFROM, BUFFER_PLAIN, DIRECTION_INGRESS, ctx->args[4],
		ctx->args[3])
TRACE_DATA_CALL(sendmsg, SYSCALL_SENDMSG, BUFFER_MSGHDR, DIRECTION_EGRESS, 0, 0)
TRACE_DATA_CALL(recvmsg, SYSCALL_RECVMSG, BUFFER_MSGHDR, DIRECTION_INGRESS, 0, ctx->args[2])
TRACE_DATA_CALL(sendmmsg, SYSCALL_SENDMMSG, BUFFER_MMSGHDR, DIRECTION_EGRESS, 0, 0)
TRACE_DATA_CALL(recvmmsg, SYSCALL_RECVMMSG, BUFFER_MMSGHDR, DIRECTION_INGRESS, 0, ctx->args[3])

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct syscall_enter_ctx *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if ((pid_tgid >> 32) == self_tgid)
		return 0;
	struct thread_state *thread = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
							   BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!thread || thread_untraced(pid_tgid, thread))
		return 0;
	thread->call.fd = (__s32)ctx->args[0];
	thread->call.syscall = SYSCALL_CONNECT;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct syscall_exit_ctx *ctx)
{
	struct pending_call call;

	if (!take_pending(SYSCALL_CONNECT, &call))
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__s32 fd = call.fd;
	/* Non-blocking connects report EINPROGRESS; the tuple is already bound. */
	if (ctx->ret != 0 && ctx->ret != -EINPROGRESS)
		return 0;
	struct socket_info info;
	if (socket_of(pid_tgid, fd, CACHE_REFILL, ROLE_CLIENT, &info))
		emit_connection(pid_tgid, fd, EVENT_KIND_CONNECT, SYSCALL_CONNECT, ctx->ret, &info);
	return 0;
}

static __always_inline void complete_accept(struct syscall_exit_ctx *ctx, __u8 syscall)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__s64 fd = ctx->ret;

	if (fd < 0 || untraced(pid_tgid))
		return;
	struct socket_info info;
	if (socket_of(pid_tgid, (__s32)fd, CACHE_REFILL, ROLE_SERVER, &info))
		emit_connection(pid_tgid, (__s32)fd, EVENT_KIND_ACCEPT, syscall, fd, &info);
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

/* At entry the fd still resolves to its socket: report the tuple, then forget the socket
 * so a later one reusing the fd number starts over (role unknown). */
SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct syscall_enter_ctx *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__s32 fd = (__s32)ctx->args[0];

	if (untraced(pid_tgid))
		return 0;
	struct socket_info info;
	if (!socket_of(pid_tgid, fd, CACHE_READ, ROLE_UNKNOWN, &info))
		return 0;
	emit_connection(pid_tgid, fd, EVENT_KIND_CLOSE, SYSCALL_CLOSE, 0, &info);
	struct socket_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	bpf_map_delete_elem(&sockets, &key);
	return 0;
}

#include "process_events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";
