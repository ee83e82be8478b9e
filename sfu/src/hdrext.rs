//! RTP header-extension elements (RFC 8285 one- and two-byte forms) and the RFC 6464 audio level.
//!
//! Browsers put per-packet metadata here: the audio level that drives speaker
//! detection, the simulcast RID, transport-wide sequence numbers. The block is checked
//! once when the packet is parsed, so iterating over it afterwards cannot fail.

use crate::rtp::RtpError;

/// Profile value of the one-byte form.
const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// The two-byte form is `0x100` followed by 4 application bits.
const TWO_BYTE_PROFILE_MASK: u16 = 0xFFF0;
const TWO_BYTE_PROFILE: u16 = 0x1000;

/// Which RFC 8285 form a header-extension block uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// Profile 0xBEDE: ids 1..=14, 1..=16 bytes each.
    OneByte,
    /// Profile 0x100X: ids 1..=255, 0..=255 bytes each.
    TwoByte,
    /// Some other profile; its elements are not interpreted.
    Other(u16),
}

impl ExtensionForm {
    /// The form named by the 16-bit profile field of the extension block.
    pub fn from_profile(profile: u16) -> Self {
        match profile {
            ONE_BYTE_PROFILE => Self::OneByte,
            p if p & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE => Self::TwoByte,
            p => Self::Other(p),
        }
    }
}

/// Iterator over the `(id, data)` elements of a checked extension block.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    form: ExtensionForm,
    data: &'a [u8],
    at: usize,
}

impl<'a> Extensions<'a> {
    /// Checks every element of the block `data` (after its 4-byte profile/length word).
    pub fn parse(form: ExtensionForm, data: &'a [u8]) -> Result<Self, RtpError> {
        let mut at = 0;
        while let Some(element) = next_element(form, data, at)? {
            at = element.end;
        }
        Ok(Self { form, data, at: 0 })
    }
}

impl Default for Extensions<'_> {
    /// An empty block, for packets without extensions.
    fn default() -> Self {
        Self {
            form: ExtensionForm::Other(0),
            data: &[],
            at: 0,
        }
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The block was checked in `parse`, so an error cannot happen here; stop if it did.
        let Element { id, start, end } = next_element(self.form, self.data, self.at).ok()??;
        self.at = end;
        Some((id, &self.data[start..end]))
    }
}

/// Position of one extension element inside the block.
struct Element {
    /// The negotiated extension id.
    id: u8,
    /// Start of its data.
    start: usize,
    /// End of its data, which is where the next element begins.
    end: usize,
}

/// Reads the element at `at`, skipping padding: `Ok(None)` at the end of the list.
fn next_element(
    form: ExtensionForm,
    data: &[u8],
    mut at: usize,
) -> Result<Option<Element>, RtpError> {
    loop {
        let Some(&first) = data.get(at) else {
            return Ok(None);
        };
        let (id, start, len) = match form {
            ExtensionForm::Other(_) => return Ok(None),
            ExtensionForm::OneByte => match first >> 4 {
                0 => (0, at + 1, 0),   // padding byte
                15 => return Ok(None), // reserved id: stop processing
                id => (id, at + 1, usize::from(first & 0x0F) + 1),
            },
            ExtensionForm::TwoByte if first == 0 => (0, at + 1, 0),
            ExtensionForm::TwoByte => {
                let len = data.get(at + 1).ok_or(RtpError::BadExtension)?;
                (first, at + 2, usize::from(*len))
            }
        };
        if start + len > data.len() {
            return Err(RtpError::BadExtension);
        }
        if id != 0 {
            return Ok(Some(Element {
                id,
                start,
                end: start + len,
            }));
        }
        at = start;
    }
}

/// RFC 6464 audio level carried in each audio packet (`urn:ietf:params:rtp-hdrext:ssrc-audio-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioLevel {
    /// The sender's voice-activity flag (V bit).
    pub voice: bool,
    /// Level in -dBov: 0 is the loudest possible, 127 is silence.
    pub level: u8,
}

impl AudioLevel {
    /// Parses the one-byte extension data; `None` if it is empty.
    pub fn parse(data: &[u8]) -> Option<Self> {
        let &b = data.first()?;
        Some(Self {
            voice: b & 0x80 != 0,
            level: b & 0x7F,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(form: ExtensionForm, data: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, RtpError> {
        Ok(Extensions::parse(form, data)?
            .map(|(id, d)| (id, d.to_vec()))
            .collect())
    }

    #[test]
    fn forms_from_profiles() {
        assert_eq!(ExtensionForm::from_profile(0xBEDE), ExtensionForm::OneByte);
        assert_eq!(ExtensionForm::from_profile(0x1003), ExtensionForm::TwoByte);
        assert_eq!(
            ExtensionForm::from_profile(0x1234),
            ExtensionForm::Other(0x1234)
        );
    }

    #[test]
    fn one_byte_elements_with_padding_and_stop() {
        // id 1 = audio level (V set, 42 -dBov), a padding byte, id 3 with 2 bytes, then id 15.
        let block = [0x10, 0x80 | 42, 0x00, 0x31, 7, 8, 0xF0, 0x99];
        let got = all(ExtensionForm::OneByte, &block).unwrap();
        assert_eq!(got, vec![(1, vec![0x80 | 42]), (3, vec![7, 8])]);
        assert_eq!(
            AudioLevel::parse(&got[0].1),
            Some(AudioLevel {
                voice: true,
                level: 42
            })
        );
        assert_eq!(AudioLevel::parse(&[]), None);
    }

    #[test]
    fn two_byte_elements_including_empty_ones() {
        let got = all(ExtensionForm::TwoByte, &[0, 200, 3, 1, 2, 3, 17, 0]).unwrap();
        assert_eq!(got, vec![(200, vec![1, 2, 3]), (17, vec![])]);
    }

    #[test]
    fn overrunning_elements_are_errors_and_unknown_profiles_are_skipped() {
        assert_eq!(
            all(ExtensionForm::OneByte, &[0x1F, 0, 0, 0]),
            Err(RtpError::BadExtension)
        );
        assert_eq!(
            all(ExtensionForm::TwoByte, &[5]),
            Err(RtpError::BadExtension)
        );
        assert_eq!(
            all(ExtensionForm::TwoByte, &[5, 9, 1]),
            Err(RtpError::BadExtension)
        );
        assert_eq!(all(ExtensionForm::Other(7), &[1, 2, 3, 4]), Ok(vec![]));
    }
}
