//! Handing the memory the manifest's reading freed back to the system before
//! the targets are contacted.
//!
//! Reading a large manifest builds its whole YAML tree (issue 25: about
//! 15 MiB for 1,000 secrets routed to 26,000 keys), which is freed as soon
//! as the model is built. glibc keeps freed pages in the reading thread's
//! heap, where the runtime's worker threads (each with a heap of its own)
//! never reuse them, so they stayed in the job's resident memory through the
//! whole sync: the 1,000 × 100 × 5 benchmark peaked at 43 MiB with a live
//! heap of 13–17 MiB. `malloc_trim` returns them. musl (the image's libc)
//! returns freed memory by itself and has no `malloc_trim`: nothing to do.

/// Returns the heap's free pages to the system (glibc only).
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
