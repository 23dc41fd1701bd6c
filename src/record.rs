//! The record format: what crosses between processes for remote windows, ports and broadcast
//! channels (see `docs/remote-format.md`, the table another implementation would follow).
//!
//! Pure, safe and self-contained: it imports nothing of the crate but the error type, so that the
//! format can be read, tested and fuzzed on its own. Every record is a fixed header (magic,
//! version, kind) and then the kind's fields in a fixed order; integers are little-endian,
//! strings are length-prefixed UTF-8, every length is bounded, and a record must end exactly
//! where its last field ends. Decoding borrows from the input and allocates nothing.

use crate::error::{Error, ErrorKind};

/// The two bytes every record starts with ("PM").
pub const MAGIC: [u8; 2] = *b"PM";
/// The record format version this build reads and writes (any other is refused).
pub const PM_RECORD_VERSION: u8 = 1;
/// Bytes before the kind's fields: magic (2), version (1), kind (1).
pub const PM_RECORD_HEADER_LEN: usize = 4;
/// Longest origin or targetOrigin string, in bytes.
pub const PM_RECORD_MAX_ORIGIN: usize = 2048;
/// Longest BroadcastChannel name, in bytes.
pub const PM_RECORD_MAX_NAME: usize = 4096;
/// Most ports one record may carry.
pub const PM_RECORD_MAX_PORTS: usize = 64;
/// Largest message payload, in bytes (64 MiB, the default queue byte limit).
pub const PM_RECORD_MAX_DATA: usize = 64 << 20;

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// `window.postMessage` to a window in the receiving process.
    Window = 1,
    /// A message from a port to its partner in the receiving process.
    PortMessage = 2,
    /// The sender's port was closed: the receiver's partner port closes too.
    PortClose = 3,
    /// A BroadcastChannel post.
    Broadcast = 4,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            1 => Kind::Window,
            2 => Kind::PortMessage,
            3 => Kind::PortClose,
            4 => Kind::Broadcast,
            _ => return None,
        })
    }
}

/// Which process chose a port id, as seen by the record's *sender*. Ids are scoped by it, so a
/// peer's ids and the receiver's own ids never collide in the receiver's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IdOwner {
    /// The sender of the record chose the id (the addressed port was created by a deliver on
    /// the receiving side).
    Sender = 0,
    /// The receiver of the record chose the id (it is the port the receiver kept when it sent
    /// the partner away).
    Receiver = 1,
}

/// The ids of the ports a record carries: a view of the record's bytes (8 bytes per id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortIds<'a>(&'a [u8]);

impl<'a> PortIds<'a> {
    #[cfg(test)]
    pub const EMPTY: PortIds<'static> = PortIds(&[]);

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.0
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
    }
}

/// A record's fields, decoded or to encode; `P` is how its port ids are held: a view of the
/// record's bytes when decoded ([`Record`]), a slice of ids when encoding ([`Outgoing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordOf<'a, P> {
    Window {
        /// The sender document's origin serialization ("null" when opaque).
        origin: &'a str,
        /// `"*"`, an origin serialization, or "null" (matches nothing).
        target_origin: &'a str,
        ports: P,
        data: &'a [u8],
    },
    PortMessage {
        id: u64,
        owner: IdOwner,
        ports: P,
        data: &'a [u8],
    },
    PortClose {
        id: u64,
        owner: IdOwner,
    },
    Broadcast {
        origin: &'a str,
        name: &'a str,
        data: &'a [u8],
    },
}

/// A decoded record, borrowing the bytes it was decoded from.
pub type Record<'a> = RecordOf<'a, PortIds<'a>>;

fn malformed(why: &'static str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("malformed record: {why}"),
    )
}

/// A cursor over a record being decoded.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        if self.bytes.len() < n {
            return Err(malformed(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().expect("2"),
        ))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4"),
        ))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8"),
        ))
    }

    fn str(&mut self, max: usize, what: &'static str) -> Result<&'a str, Error> {
        let len = usize::from(self.u16(what)?);
        if len > max {
            return Err(malformed(what));
        }
        std::str::from_utf8(self.take(len, what)?).map_err(|_| malformed(what))
    }

    fn ports(&mut self) -> Result<PortIds<'a>, Error> {
        let count = usize::from(self.u8("port count")?);
        if count > PM_RECORD_MAX_PORTS {
            return Err(malformed("more ports than PM_RECORD_MAX_PORTS"));
        }
        let ids = PortIds(self.take(count * 8, "port ids")?);
        // The same id twice would make two ports out of one.
        for (i, id) in ids.iter().enumerate() {
            if ids.iter().take(i).any(|earlier| earlier == id) {
                return Err(malformed("the same port id twice"));
            }
        }
        Ok(ids)
    }

    fn owner(&mut self) -> Result<IdOwner, Error> {
        match self.u8("id owner")? {
            0 => Ok(IdOwner::Sender),
            1 => Ok(IdOwner::Receiver),
            _ => Err(malformed("id owner is not 0 or 1")),
        }
    }

    fn data(&mut self) -> Result<&'a [u8], Error> {
        let len = self.u32("data length")? as usize;
        if len > PM_RECORD_MAX_DATA {
            return Err(malformed("data longer than PM_RECORD_MAX_DATA"));
        }
        self.take(len, "data")
    }
}

/// Decodes and checks a whole record: the header, every length against its bound, UTF-8
/// strings, no duplicate port ids, and no byte after the last field. Errors are
/// `PM_ERR_INVALID_ARGUMENT`. Allocates nothing.
pub fn decode(bytes: &[u8]) -> Result<Record<'_>, Error> {
    let mut r = Reader { bytes };
    if r.take(2, "header")? != MAGIC {
        return Err(malformed("bad magic"));
    }
    let version = r.u8("header")?;
    if version != PM_RECORD_VERSION {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "record version {version} is not supported (this library reads {PM_RECORD_VERSION})"
            ),
        ));
    }
    let kind = Kind::from_byte(r.u8("header")?).ok_or_else(|| malformed("unknown kind"))?;
    let record = match kind {
        Kind::Window => Record::Window {
            origin: r.str(PM_RECORD_MAX_ORIGIN, "origin")?,
            target_origin: r.str(PM_RECORD_MAX_ORIGIN, "target origin")?,
            ports: r.ports()?,
            data: r.data()?,
        },
        Kind::PortMessage => Record::PortMessage {
            id: r.u64("port id")?,
            owner: r.owner()?,
            ports: r.ports()?,
            data: r.data()?,
        },
        Kind::PortClose => Record::PortClose {
            id: r.u64("port id")?,
            owner: r.owner()?,
        },
        Kind::Broadcast => Record::Broadcast {
            origin: r.str(PM_RECORD_MAX_ORIGIN, "origin")?,
            name: r.str(PM_RECORD_MAX_NAME, "channel name")?,
            data: r.data()?,
        },
    };
    if !r.bytes.is_empty() {
        return Err(malformed("bytes after the last field"));
    }
    Ok(record)
}

/// Port ids to encode.
pub type Ids<'a> = &'a [u64];

/// A record to encode (ports given as a slice of ids).
pub type Outgoing<'a> = RecordOf<'a, Ids<'a>>;

fn too_long(what: &'static str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("{what} is longer than the record format allows"),
    )
}

fn put_str(out: &mut Vec<u8>, s: &str, max: usize, what: &'static str) -> Result<(), Error> {
    if s.len() > max {
        return Err(too_long(what));
    }
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_ports(out: &mut Vec<u8>, ports: Ids<'_>) -> Result<(), Error> {
    if ports.len() > PM_RECORD_MAX_PORTS {
        return Err(too_long("the transfer list"));
    }
    out.push(ports.len() as u8);
    for id in ports {
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(())
}

fn put_data(out: &mut Vec<u8>, data: &[u8]) -> Result<(), Error> {
    if data.len() > PM_RECORD_MAX_DATA {
        return Err(too_long("the message data"));
    }
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    Ok(())
}

impl Outgoing<'_> {
    /// The exact encoded size (before bounds are checked), so the buffer is allocated once.
    pub fn encoded_len(&self) -> usize {
        PM_RECORD_HEADER_LEN
            + match self {
                Outgoing::Window {
                    origin,
                    target_origin,
                    ports,
                    data,
                } => {
                    2 + origin.len()
                        + 2
                        + target_origin.len()
                        + 1
                        + 8 * ports.len()
                        + 4
                        + data.len()
                }
                Outgoing::PortMessage { ports, data, .. } => {
                    8 + 1 + 1 + 8 * ports.len() + 4 + data.len()
                }
                Outgoing::PortClose { .. } => 8 + 1,
                Outgoing::Broadcast { origin, name, data } => {
                    2 + origin.len() + 2 + name.len() + 4 + data.len()
                }
            }
    }

    /// Encodes into `out` (cleared first; its capacity is reused). A field past its bound is
    /// `PM_ERR_INVALID_ARGUMENT` (nothing is sent then).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        out.clear();
        out.reserve(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        out.push(PM_RECORD_VERSION);
        match *self {
            Outgoing::Window {
                origin,
                target_origin,
                ports,
                data,
            } => {
                out.push(Kind::Window as u8);
                put_str(out, origin, PM_RECORD_MAX_ORIGIN, "the source origin")?;
                put_str(out, target_origin, PM_RECORD_MAX_ORIGIN, "the targetOrigin")?;
                put_ports(out, ports)?;
                put_data(out, data)?;
            }
            Outgoing::PortMessage {
                id,
                owner,
                ports,
                data,
            } => {
                out.push(Kind::PortMessage as u8);
                out.extend_from_slice(&id.to_le_bytes());
                out.push(owner as u8);
                put_ports(out, ports)?;
                put_data(out, data)?;
            }
            Outgoing::PortClose { id, owner } => {
                out.push(Kind::PortClose as u8);
                out.extend_from_slice(&id.to_le_bytes());
                out.push(owner as u8);
            }
            Outgoing::Broadcast { origin, name, data } => {
                out.push(Kind::Broadcast as u8);
                put_str(out, origin, PM_RECORD_MAX_ORIGIN, "the channel's origin")?;
                put_str(out, name, PM_RECORD_MAX_NAME, "the channel name")?;
                put_data(out, data)?;
            }
        }
        Ok(())
    }

    /// Encodes into a new buffer of exactly the record's size.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

/// Encodes a window record for `data` into `buffer` and decodes it back, returning the decoded
/// data length. With a buffer whose capacity suffices, it allocates nothing.
#[cfg(test)]
fn round_trip_window(
    buffer: &mut Vec<u8>,
    origin: &str,
    target_origin: &str,
    data: &[u8],
) -> Result<usize, Error> {
    Outgoing::Window {
        origin,
        target_origin,
        ports: &[],
        data,
    }
    .encode_into(buffer)?;
    match decode(buffer)? {
        Record::Window { data, .. } => Ok(data.len()),
        _ => Err(malformed("not a window record")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encoding reuses the caller's buffer (no new allocation once it is big enough) and
    /// decoding borrows from it: the decoded data points into the buffer.
    #[test]
    fn the_codec_reuses_the_buffer_and_decoding_borrows() {
        let data = b"Hello World";
        let mut buffer = Vec::new();
        round_trip_window(&mut buffer, "http://127.0.0.1", "http://localhost", data).unwrap();
        let (ptr, capacity) = (buffer.as_ptr(), buffer.capacity());
        for _ in 0..100 {
            let n = round_trip_window(&mut buffer, "http://127.0.0.1", "http://localhost", data)
                .unwrap();
            assert_eq!(n, data.len());
            assert_eq!((buffer.as_ptr(), buffer.capacity()), (ptr, capacity));
        }
        let Record::Window { data: decoded, .. } = decode(&buffer).unwrap() else {
            panic!("not a window record");
        };
        assert_eq!(decoded, data);
        assert!(buffer.as_ptr_range().contains(&decoded.as_ptr()));
    }

    fn samples() -> Vec<(Outgoing<'static>, Record<'static>)> {
        const IDS: &[u64] = &[7, u64::MAX];
        const IDS_BYTES: &[u8] = &[
            7, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        vec![
            (
                Outgoing::Window {
                    origin: "http://127.0.0.1",
                    target_origin: "http://localhost",
                    ports: &[],
                    data: b"Hello World",
                },
                Record::Window {
                    origin: "http://127.0.0.1",
                    target_origin: "http://localhost",
                    ports: PortIds::EMPTY,
                    data: b"Hello World",
                },
            ),
            (
                Outgoing::Window {
                    origin: "null",
                    target_origin: "*",
                    ports: IDS,
                    data: b"",
                },
                Record::Window {
                    origin: "null",
                    target_origin: "*",
                    ports: PortIds(IDS_BYTES),
                    data: b"",
                },
            ),
            (
                Outgoing::PortMessage {
                    id: 42,
                    owner: IdOwner::Receiver,
                    ports: IDS,
                    data: b"\0binary\xff",
                },
                Record::PortMessage {
                    id: 42,
                    owner: IdOwner::Receiver,
                    ports: PortIds(IDS_BYTES),
                    data: b"\0binary\xff",
                },
            ),
            (
                Outgoing::PortClose {
                    id: 1 << 40,
                    owner: IdOwner::Sender,
                },
                Record::PortClose {
                    id: 1 << 40,
                    owner: IdOwner::Sender,
                },
            ),
            (
                Outgoing::Broadcast {
                    origin: "https://a.example",
                    name: "chat é",
                    data: b"hi",
                },
                Record::Broadcast {
                    origin: "https://a.example",
                    name: "chat é",
                    data: b"hi",
                },
            ),
        ]
    }

    #[test]
    fn every_kind_round_trips_and_has_its_computed_length() {
        for (out, expected) in samples() {
            let bytes = out.encode().unwrap();
            assert_eq!(bytes.len(), out.encoded_len(), "{out:?}");
            assert_eq!(decode(&bytes).unwrap(), expected);
            assert_eq!(&bytes[..3], b"PM\x01");
        }
    }

    #[test]
    fn the_seed_record_has_the_documented_bytes() {
        let bytes = Outgoing::Window {
            origin: "http://a",
            target_origin: "*",
            ports: &[],
            data: b"Hi",
        }
        .encode()
        .unwrap();
        assert_eq!(
            bytes,
            b"PM\x01\x01\x08\x00http://a\x01\x00*\x00\x02\x00\x00\x00Hi".to_vec()
        );
    }

    #[test]
    fn the_seed_record_is_56_bytes_as_docs_remote_format_md_shows() {
        let bytes = samples()[0].0.encode().unwrap();
        let mut expected =
            b"PM\x01\x01\x10\x00http://127.0.0.1\x10\x00http://localhost\x00".to_vec();
        expected.extend_from_slice(b"\x0b\x00\x00\x00Hello World");
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), 56);
    }

    #[test]
    fn every_truncation_is_refused() {
        for (out, _) in samples() {
            let bytes = out.encode().unwrap();
            for len in 0..bytes.len() {
                let err = decode(&bytes[..len]).unwrap_err();
                assert_eq!(err.kind, ErrorKind::InvalidArgument, "{out:?} cut at {len}");
            }
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        for (out, _) in samples() {
            let mut bytes = out.encode().unwrap();
            bytes.push(0);
            assert!(
                decode(&bytes)
                    .unwrap_err()
                    .message
                    .contains("after the last field")
            );
        }
    }

    #[test]
    fn header_magic_version_and_kind_are_checked() {
        let good = samples()[0].0.encode().unwrap();
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(decode(&bad).unwrap_err().message.contains("magic"));
        for version in [0u8, 2, 255] {
            let mut bad = good.clone();
            bad[2] = version;
            assert!(
                decode(&bad).unwrap_err().message.contains("version"),
                "{version}"
            );
        }
        for kind in [0u8, 5, 255] {
            let mut bad = good.clone();
            bad[3] = kind;
            assert!(decode(&bad).unwrap_err().message.contains("kind"), "{kind}");
        }
    }

    #[test]
    fn bounds_are_enforced_on_both_sides() {
        let long_origin = "x".repeat(PM_RECORD_MAX_ORIGIN + 1);
        let out = Outgoing::Window {
            origin: &long_origin,
            target_origin: "*",
            ports: &[],
            data: b"",
        };
        assert!(out.encode().is_err());
        // The same record forged by hand: refused when read.
        let mut forged = b"PM\x01\x01".to_vec();
        forged.extend_from_slice(&((PM_RECORD_MAX_ORIGIN + 1) as u16).to_le_bytes());
        forged.extend_from_slice(long_origin.as_bytes());
        forged.extend_from_slice(b"\x01\x00*\x00\x00\x00\x00\x00");
        assert!(decode(&forged).unwrap_err().message.contains("origin"));
        // At the bound exactly, accepted.
        let at_bound = "x".repeat(PM_RECORD_MAX_ORIGIN);
        let ok = Outgoing::Window {
            origin: &at_bound,
            target_origin: "*",
            ports: &[],
            data: b"",
        };
        assert!(decode(&ok.encode().unwrap()).is_ok());
        // Too many ports, a duplicate port, and an oversized data length.
        let ids: Vec<u64> = (0..=PM_RECORD_MAX_PORTS as u64).collect();
        let many = Outgoing::PortMessage {
            id: 1,
            owner: IdOwner::Sender,
            ports: &ids,
            data: b"",
        };
        assert!(many.encode().is_err());
        let mut forged = b"PM\x01\x02".to_vec();
        forged.extend_from_slice(&1u64.to_le_bytes());
        forged.push(0);
        forged.push((PM_RECORD_MAX_PORTS + 1) as u8);
        forged.extend(std::iter::repeat_n(0u8, (PM_RECORD_MAX_PORTS + 1) * 8 + 4));
        assert!(
            decode(&forged)
                .unwrap_err()
                .message
                .contains("PM_RECORD_MAX_PORTS")
        );
        let dup = Outgoing::PortMessage {
            id: 1,
            owner: IdOwner::Sender,
            ports: &[5, 5],
            data: b"",
        };
        assert!(
            decode(&dup.encode().unwrap())
                .unwrap_err()
                .message
                .contains("twice")
        );
        let mut huge = b"PM\x01\x03".to_vec(); // a close record with a bad owner byte
        huge.extend_from_slice(&1u64.to_le_bytes());
        huge.push(2);
        assert!(decode(&huge).unwrap_err().message.contains("owner"));
        let mut huge = b"PM\x01\x04\x01\x00a\x01\x00n".to_vec();
        huge.extend_from_slice(&((PM_RECORD_MAX_DATA + 1) as u32).to_le_bytes());
        assert!(
            decode(&huge)
                .unwrap_err()
                .message
                .contains("PM_RECORD_MAX_DATA")
        );
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut bytes = samples()[4].0.encode().unwrap();
        let at = bytes.iter().position(|&b| b == b'c').unwrap(); // the name's first byte
        bytes[at] = 0xff;
        assert!(decode(&bytes).unwrap_err().message.contains("name"));
    }

    #[test]
    fn the_round_trip_reuses_its_buffer() {
        let mut buffer = Vec::with_capacity(64);
        let before = buffer.as_ptr();
        let n = round_trip_window(
            &mut buffer,
            "http://127.0.0.1",
            "http://localhost",
            b"Hello World",
        )
        .unwrap();
        assert_eq!(n, 11);
        assert_eq!(buffer.as_ptr(), before, "no reallocation");
    }
}
