//! Where terminal bytes go: the [`Sink`] trait and a fixed-capacity buffer.

/// Receives the bytes a screen operation sends to the terminal, in order.
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

/// A fixed buffer of `N` bytes; bytes beyond `N` are dropped and counted in [`ByteBuf::dropped`].
pub struct ByteBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
    dropped: usize,
}

impl<const N: usize> ByteBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        ByteBuf {
            bytes: [0; N],
            len: 0,
            dropped: 0,
        }
    }

    /// The bytes kept.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// How many bytes did not fit.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Empties the buffer (and the dropped count).
    pub fn clear(&mut self) {
        self.len = 0;
        self.dropped = 0;
    }
}

impl<const N: usize> Default for ByteBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Sink for ByteBuf<N> {
    fn put(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(N - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
        self.dropped += bytes.len() - take;
    }
}

impl<const N: usize> core::fmt::Write for ByteBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}
