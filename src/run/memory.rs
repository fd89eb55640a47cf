//! How the job's heap is kept small (issue 25). Two glibc settings; musl
//! (the image's libc) has neither and needs neither: it has one heap and
//! returns freed memory by itself.
//!
//! A heap profile of the 1,000 × 100 × 5 benchmark (heaptrack; see
//! docs/benchmarks.md) peaked at 20 MiB while the manifest was read (its
//! YAML tree, freed once the model is built) and held 13–17 MiB while the
//! targets were synced, yet the job's resident memory reached 43 MiB: glibc
//! gives every thread that allocates a heap ("arena") of its own, and
//! memory freed in one is never reused by another, so the reading thread's
//! freed tree and each worker's high-water mark all stayed resident.

/// One heap for every thread, so memory freed by one is reused by the
/// others. Call before the runtime's threads start.
pub fn one_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// `M_ARENA_MAX` in glibc's `malloc.h`.
        const M_ARENA_MAX: std::os::raw::c_int = -8;
        extern "C" {
            fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
        }
        // SAFETY: `mallopt` takes no pointer; it only sets a limit glibc
        // reads when a thread first allocates.
        unsafe {
            mallopt(M_ARENA_MAX, 1);
        }
    }
}

/// Returns the heap's free pages (the manifest's YAML tree) to the system.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: `malloc_trim` takes no pointer and only gives free pages
        // of glibc's own heaps back to the kernel; any thread may call it.
        unsafe {
            malloc_trim(0);
        }
    }
}
