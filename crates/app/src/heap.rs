//! The process's heap: glibc keeps memory libtorch frees for the next allocation instead of
//! handing it back to the kernel and faulting it in again (`M_TOP_PAD`).
//!
//! Why: a training step allocates and frees the same large temporaries every step (the
//! gradients, AdamW's update, and for EWC and L2-SP the penalty's `theta - theta*`, its
//! square and their products over all 22.7M encoder parameters). glibc serves allocations
//! that large with `mmap` and returns them with `munmap` when freed, so every step touches
//! fresh pages: the kernel zero-fills each on first write. With a top pad glibc grows the
//! heap in 1 GiB steps and keeps the freed space, so the next step reuses it. Arithmetic is
//! unchanged (the same kernels on the same values, only at other addresses): the regress
//! cases give bit-identical scores either way. `make bench-heap` measures it
//! (`results/bench/heap.json`; one-thread quick runs beside two busy lanes): L2-SP
//! 176 s -> 95 s (1.85x), EWC 200 s -> 117 s (1.72x), flat 77 s -> 63 s (1.22x), at up
//! to 230 MB more peak memory.
//!
//! `LRDIST_TOP_PAD` overrides it: a size in bytes, or `off` for glibc's own behaviour. A
//! `MALLOC_TOP_PAD_` or a `glibc.malloc.top_pad` in `GLIBC_TUNABLES` (glibc's own settings)
//! is left as the user set it.

use anyhow::{bail, Result};

/// The top pad lrdist sets unless told otherwise: 1 GiB, larger than the biggest set of
/// temporaries a step frees (a few copies of the 91 MB encoder), far below the memory of
/// the machines it runs on. Pages of the pad that are never written cost no memory.
pub const DEFAULT_TOP_PAD: usize = 1 << 30;

/// What [`configure`] does to the heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapSetting {
    /// Set glibc's `M_TOP_PAD` to this many bytes.
    TopPad(usize),
    /// Leave glibc as it is, for this reason.
    Leave(&'static str),
}

/// Decides the heap setting from the environment: `LRDIST_TOP_PAD` (bytes or `off`),
/// glibc's own `MALLOC_TOP_PAD_` and `GLIBC_TUNABLES`. A malformed `LRDIST_TOP_PAD` is an
/// error naming the variable.
pub fn heap_setting(
    lrdist_top_pad: Option<&str>,
    malloc_top_pad: Option<&str>,
    glibc_tunables: Option<&str>,
) -> Result<HeapSetting> {
    if let Some(v) = lrdist_top_pad {
        let v = v.trim();
        if v.eq_ignore_ascii_case("off") {
            return Ok(HeapSetting::Leave("LRDIST_TOP_PAD=off"));
        }
        return match v.parse::<usize>() {
            Ok(bytes) => Ok(HeapSetting::TopPad(bytes)),
            Err(_) => {
                bail!("LRDIST_TOP_PAD={v:?}: expected a size in bytes (e.g. 1073741824) or `off`")
            }
        };
    }
    if malloc_top_pad.is_some() {
        return Ok(HeapSetting::Leave("MALLOC_TOP_PAD_ is set"));
    }
    if glibc_tunables.is_some_and(|t| t.contains("glibc.malloc.top_pad")) {
        return Ok(HeapSetting::Leave(
            "GLIBC_TUNABLES sets glibc.malloc.top_pad",
        ));
    }
    Ok(HeapSetting::TopPad(DEFAULT_TOP_PAD))
}

/// Applies [`heap_setting`] of this process's environment. Call once at start, before
/// libtorch allocates. On a C library other than glibc it does nothing.
pub fn configure() -> Result<HeapSetting> {
    let var = |name: &str| std::env::var(name).ok();
    let setting = heap_setting(
        var("LRDIST_TOP_PAD").as_deref(),
        var("MALLOC_TOP_PAD_").as_deref(),
        var("GLIBC_TUNABLES").as_deref(),
    )?;
    if let HeapSetting::TopPad(bytes) = setting {
        set_top_pad(bytes)?;
    }
    Ok(setting)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_top_pad(bytes: usize) -> Result<()> {
    let Ok(value) = libc::c_int::try_from(bytes) else {
        bail!(
            "LRDIST_TOP_PAD={bytes}: glibc takes at most {} bytes",
            libc::c_int::MAX
        );
    };
    // SAFETY: mallopt only updates malloc's parameters; it is called before other threads
    // allocate (start of main) and glibc serialises it with the arena lock anyway.
    let ok = unsafe { libc::mallopt(libc::M_TOP_PAD, value) };
    if ok != 1 {
        bail!("glibc refused mallopt(M_TOP_PAD, {bytes})");
    }
    Ok(())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_top_pad(_bytes: usize) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_one_gib_pad() {
        assert_eq!(
            heap_setting(None, None, None).unwrap(),
            HeapSetting::TopPad(DEFAULT_TOP_PAD)
        );
        assert_eq!(
            heap_setting(None, None, Some("glibc.malloc.arena_max=2")).unwrap(),
            HeapSetting::TopPad(DEFAULT_TOP_PAD)
        );
    }

    #[test]
    fn lrdist_top_pad_overrides_and_can_turn_it_off() {
        assert_eq!(
            heap_setting(Some("4096"), Some("1"), None).unwrap(),
            HeapSetting::TopPad(4096)
        );
        assert!(matches!(
            heap_setting(Some(" OFF "), None, None).unwrap(),
            HeapSetting::Leave(_)
        ));
        let err = heap_setting(Some("1G"), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LRDIST_TOP_PAD") && err.contains("off"),
            "{err}"
        );
    }

    #[test]
    fn glibc_settings_of_the_user_are_left_alone() {
        assert!(matches!(
            heap_setting(None, Some("0"), None).unwrap(),
            HeapSetting::Leave(_)
        ));
        assert!(matches!(
            heap_setting(None, None, Some("glibc.malloc.top_pad=65536")).unwrap(),
            HeapSetting::Leave(_)
        ));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_the_default_pad() {
        set_top_pad(DEFAULT_TOP_PAD).unwrap();
        assert!(set_top_pad(usize::MAX).is_err());
    }
}
