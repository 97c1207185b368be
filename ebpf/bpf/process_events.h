/* Process lifecycle programs of the socket tracer (sched:sched_process_exec and
 * sched:sched_process_exit). Included once, at the end of socket_trace.bpf.c, whose maps
 * (ring buffer, scratch record) and filters they share; not a standalone header. */
#ifndef CORMORANT_PROCESS_EVENTS_H
#define CORMORANT_PROCESS_EVENTS_H

/* Process events: user space keeps per-process metadata (executable, command line) and drops
 * it when the process ends. */
static __always_inline struct event_buffer *start_process_event(__u64 pid_tgid, __u8 kind)
{
	struct event_buffer *event = start_record(pid_tgid, kind);

	if (event)
		event->header.timestamp_ns = bpf_ktime_get_ns();
	return event;
}

/* Fires once the new image is in place: the comm is already the new one (so the comm filter
 * judges the new program) and mm->arg_start..arg_end hold the new argv. */
SEC("tracepoint/sched/sched_process_exec")
int process_exec(struct sched_process_exec_ctx *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (untraced(pid_tgid))
		return 0;
	struct event_buffer *event = start_process_event(pid_tgid, EVENT_KIND_EXEC);
	if (!event)
		return 0;
	__u32 limit = payload_bytes < MAX_EXEC_PAYLOAD_BYTES ? payload_bytes : MAX_EXEC_PAYLOAD_BYTES;
	if (limit == 0) {
		submit(event);
		return 0;
	}
	/* The path, NUL included (cut to `limit` with the NUL kept). */
	long path_length = bpf_probe_read_kernel_str(event->payload, limit,
						     (void *)ctx + (ctx->filename_loc & 0xffff));
	if (path_length < 0)
		path_length = 0;
	__u64 offset = (__u64)path_length & (MAX_EXEC_PAYLOAD_BYTES * 2 - 1);
	event->header.payload_len = offset;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	if (offset < limit && arg_end > arg_start) {
		__u64 length = arg_end - arg_start;
		if (length > limit - offset)
			length = limit - offset;
		length &= MAX_EXEC_PAYLOAD_BYTES * 2 - 1;
		if (length > 0 &&
		    bpf_probe_read_user(event->payload + offset, length, (void *)arg_start) == 0)
			event->header.payload_len = offset + length;
	}
	submit(event);
	return 0;
}

/* Every exiting thread fires this; only the thread group leader's exit ends the process. */
SEC("tracepoint/sched/sched_process_exit")
int process_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if ((__u32)pid_tgid != pid_tgid >> 32 || untraced(pid_tgid))
		return 0;
	struct event_buffer *event = start_process_event(pid_tgid, EVENT_KIND_EXIT);
	if (event)
		submit(event);
	return 0;
}

#endif
