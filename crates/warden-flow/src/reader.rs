//! A bounds-checked big-endian reader over a borrowed packet. Every read either returns a value
//! and advances, or returns [`Malformed::Truncated`] and leaves the reader where it was: decoders
//! propagate it with `?`, so no decoder indexes a slice or trusts a declared length.

/// Why a datagram was dropped whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// Shorter than a header, set or record declares.
    Truncated,
    /// Impossible or unknown values.
    Garbage,
}

pub(crate) type R<T> = Result<T, Malformed>;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next `n` bytes, borrowed; truncated if fewer remain.
    pub(crate) fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        let head = self.buf.get(..n).ok_or(Malformed::Truncated)?;
        self.buf = self.buf.get(n..).ok_or(Malformed::Truncated)?;
        Ok(head)
    }

    /// A sub-reader over the next `n` bytes (a set, a sample, a record).
    pub(crate) fn sub(&mut self, n: usize) -> R<Reader<'a>> {
        self.bytes(n).map(Reader::new)
    }

    pub(crate) fn skip(&mut self, n: usize) -> R<()> {
        self.bytes(n).map(|_| ())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        self.bytes(N)?.try_into().map_err(|_| Malformed::Truncated)
    }

    pub(crate) fn u8(&mut self) -> R<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> R<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> R<u32> {
        self.array().map(u32::from_be_bytes)
    }
}

/// A big-endian unsigned integer of 1..=8 bytes (NetFlow v9 and IPFIX allow reduced-size
/// encoding of counters); `None` for any other width.
pub(crate) fn be_uint(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}
