//! A RowBinary reader written independently of the encoder, so the tests check the bytes against
//! the format rather than against the encoder's own helpers.

pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

pub(super) type Map = Vec<(String, String)>;

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub(super) fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let end = self.position + len;
        assert!(
            end <= self.bytes.len(),
            "read past the end at byte {}",
            self.position
        );
        let slice = &self.bytes[self.position..end];
        self.position = end;
        slice
    }

    fn fixed<const N: usize>(&mut self) -> [u8; N] {
        self.take(N).try_into().unwrap()
    }

    pub(super) fn leb128(&mut self) -> usize {
        let mut value = 0usize;
        let mut shift = 0;
        loop {
            let byte = self.take(1)[0];
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }

    pub(super) fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }

    pub(super) fn boolean(&mut self) -> bool {
        match self.u8() {
            0 => false,
            1 => true,
            other => panic!("Bool byte {other}"),
        }
    }

    pub(super) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.fixed())
    }

    pub(super) fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.fixed())
    }

    pub(super) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.fixed())
    }

    pub(super) fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.fixed())
    }

    pub(super) fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.fixed())
    }

    pub(super) fn string(&mut self) -> String {
        let len = self.leb128();
        String::from_utf8(self.take(len).to_vec()).expect("String column is UTF-8")
    }

    pub(super) fn map(&mut self) -> Map {
        let len = self.leb128();
        (0..len).map(|_| (self.string(), self.string())).collect()
    }

    pub(super) fn array<T>(&mut self, mut element: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let len = self.leb128();
        (0..len).map(|_| element(self)).collect()
    }
}

/// `[("k", "v"), …]` as an owned map column value.
pub(super) fn map_of(pairs: &[(&str, &str)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
