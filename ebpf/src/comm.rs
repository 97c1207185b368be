//! A thread's command name, kept inline: every socket event carries one, and a heap string per
//! event was a measurable share of the receiver's allocations at 10k requests/s.

use std::fmt;
use std::ops::Deref;

/// Bytes the kernel keeps for a command name (`TASK_COMM_LEN`), the NUL included.
const COMM_BYTES: usize = 16;

/// A command name as the kernel reports it (`/proc/<pid>/task/<tid>/comm`): at most 15
/// bytes, valid UTF-8. Derefs to `str`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Comm {
    bytes: [u8; COMM_BYTES],
    len: u8,
}

impl Comm {
    /// The name up to the first NUL (or all 16 bytes). A byte that is not part of valid
    /// UTF-8 becomes `?`, one byte for one, so the name never outgrows the kernel's buffer.
    pub fn from_kernel(raw: [u8; COMM_BYTES]) -> Comm {
        let end = raw.iter().position(|&byte| byte == 0).unwrap_or(COMM_BYTES);
        let mut comm = Comm::default();
        for chunk in raw[..end].utf8_chunks() {
            comm.push(chunk.valid().as_bytes());
            comm.push(&b"???"[..chunk.invalid().len()]);
        }
        comm
    }

    fn push(&mut self, bytes: &[u8]) {
        let start = usize::from(self.len);
        self.bytes[start..start + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len() as u8;
    }

    pub fn as_str(&self) -> &str {
        // `from_kernel` stores only valid UTF-8 (invalid bytes were replaced), so this cannot
        // fail; the fallback keeps the type free of `unsafe`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Deref for Comm {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Comm {
    /// The name cut to the kernel's 15 bytes at a character boundary (for tests and
    /// synthetic events).
    fn from(name: &str) -> Comm {
        let mut end = name.len().min(COMM_BYTES - 1);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut comm = Comm::default();
        comm.push(&name.as_bytes()[..end]);
        comm
    }
}

impl PartialEq<str> for Comm {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Comm {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(bytes: &[u8]) -> [u8; COMM_BYTES] {
        let mut raw = [0; COMM_BYTES];
        raw[..bytes.len()].copy_from_slice(bytes);
        raw
    }

    #[test]
    fn stops_at_the_first_nul() {
        assert_eq!(Comm::from_kernel(raw(b"python3\0garbage!")), "python3");
        assert_eq!(Comm::from_kernel(raw(b"")), "");
    }

    #[test]
    fn keeps_all_sixteen_bytes_without_a_nul() {
        let full = Comm::from_kernel(*b"0123456789abcdef");
        assert_eq!(full.as_str(), "0123456789abcdef");
    }

    #[test]
    fn replaces_invalid_bytes_one_for_one() {
        let name = Comm::from_kernel(raw(b"w\xffrk\xc3"));
        assert_eq!(name, "w?rk?");
        // A whole sixteen bytes of invalid UTF-8 still fits.
        assert_eq!(Comm::from_kernel([0xfe; 16]).as_str(), "?".repeat(16));
        // Valid multibyte characters stay.
        assert_eq!(Comm::from_kernel(raw("naïve".as_bytes())), "naïve");
    }

    #[test]
    fn from_str_cuts_at_a_character_boundary() {
        assert_eq!(Comm::from("nginx"), "nginx");
        assert_eq!(Comm::from("a-very-long-process-name"), "a-very-long-pro");
        assert_eq!(Comm::from("ééééééééé").as_str(), "ééééééé");
    }
}
