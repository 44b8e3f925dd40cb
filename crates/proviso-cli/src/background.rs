//! Threads of `proviso serve` that must yield to the request path.

/// Puts the calling thread in Linux's `SCHED_IDLE` class: it runs only on
/// CPU time no other thread of the machine wants, and a request's thread
/// that wakes up takes the core from it at once. For the index follower,
/// whose work (indexing recorded outputs, merging segments) can wait. A
/// system that refuses (or is not Linux) leaves the thread as it was.
pub fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::warn!(error = ?e, "could not lower the index follower's priority");
        }
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    /// The scheduling policy of the calling thread, from /proc (field 41
    /// of `stat`; 5 is `SCHED_IDLE`).
    fn policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) may hold spaces: count after its ')'.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split(' ').nth(41 - 3).unwrap().parse().unwrap()
    }

    #[test]
    fn the_thread_runs_only_on_idle_time() {
        let (before, after) = std::thread::spawn(|| {
            let before = policy();
            super::yield_to_requests();
            (before, policy())
        })
        .join()
        .unwrap();
        assert_eq!((before, after), (0, 5), "SCHED_OTHER, then SCHED_IDLE");
        assert_eq!(policy(), 0, "other threads are left as they were");
    }
}
