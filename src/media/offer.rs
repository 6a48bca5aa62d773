//! What the hub accepts in a participant's SDP offer, checked before any media resource is
//! taken: at most one *sending* audio and one sending video section (one camera and one
//! microphone per participant), receive-only sections for the others in the call (at most
//! [`MAX_PER_KIND`] of each kind in all), one data-channel section, audio that offers Opus and
//! video that offers VP8 (what the hub forwards and records), and no other kind of media. Pure:
//! the text in, a reason out.

use crate::room::MAX_PARTICIPANTS;

/// Most sections of one kind: one for each other participant of a full session.
pub const MAX_PER_KIND: usize = MAX_PARTICIPANTS - 1;

/// Most `m=` sections accepted: audio and video for each other participant, and a data channel.
pub const MAX_SECTIONS: usize = 2 * MAX_PER_KIND + 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("the offer has no media section")]
    NoMedia,
    #[error(
        "the offer has {0} media sections; at most {MAX_SECTIONS} are accepted (audio and video \
         for each other participant, and data)"
    )]
    TooManySections(usize),
    #[error(
        "the offer sends more than one {0} track; one camera and one microphone per participant"
    )]
    TooManyTracks(String),
    #[error("the offer has more than {MAX_PER_KIND} {0} sections")]
    TooManyReceivers(String),
    #[error("{0} media is not accepted; only audio, video and a data channel are")]
    UnknownMedia(String),
    #[error(
        "the {kind} section offers no supported codec (offered: {offered}); {needed} is required"
    )]
    NoSupportedCodec {
        kind: String,
        offered: String,
        needed: &'static str,
    },
}

/// Check an SDP offer's media sections; see the module docs.
pub fn check_offer(sdp: &str) -> Result<(), OfferError> {
    // Each section: its kind and the codec names of its rtpmap lines.
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let sending = sending_sections(sdp);
    for line in sdp.lines().map(str::trim_end) {
        if let Some(rest) = line.strip_prefix("m=") {
            if sections.len() == MAX_SECTIONS {
                let total = sdp.lines().filter(|l| l.starts_with("m=")).count();
                return Err(OfferError::TooManySections(total));
            }
            let kind = rest
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            sections.push((kind, Vec::new()));
        } else if let Some(rest) = line.strip_prefix("a=rtpmap:")
            && let Some((_, section)) = sections.last_mut().map(|(k, c)| (k, c))
        {
            // `a=rtpmap:<pt> <name>/<clock>[/<channels>]`
            if let Some(name) = rest.split(' ').nth(1).and_then(|e| e.split('/').next()) {
                section.push(name.to_ascii_lowercase());
            }
        }
    }
    if sections.is_empty() {
        return Err(OfferError::NoMedia);
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut sent: Vec<&str> = Vec::new();
    for (i, (kind, codecs)) in sections.iter().enumerate() {
        let needed = match kind.as_str() {
            "audio" => Some(("opus", "Opus")),
            "video" => Some(("vp8", "VP8")),
            "application" => None,
            other => return Err(OfferError::UnknownMedia(other.to_owned())),
        };
        let count = seen.iter().filter(|k| **k == kind.as_str()).count();
        if kind == "application" && count > 0 {
            return Err(OfferError::TooManyTracks(kind.clone()));
        }
        if count >= MAX_PER_KIND {
            return Err(OfferError::TooManyReceivers(kind.clone()));
        }
        seen.push(kind);
        if sending.get(i).copied().unwrap_or(false) && kind != "application" {
            if sent.contains(&kind.as_str()) {
                return Err(OfferError::TooManyTracks(kind.clone()));
            }
            sent.push(kind);
        }
        if let Some((codec, label)) = needed
            && !codecs.iter().any(|c| c == codec)
        {
            let mut offered = codecs.clone();
            offered.dedup();
            return Err(OfferError::NoSupportedCodec {
                kind: kind.clone(),
                offered: if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                },
                needed: label,
            });
        }
    }
    Ok(())
}

/// For each `m=` section, whether it sends media (`sendrecv`, the default, or `sendonly`).
fn sending_sections(sdp: &str) -> Vec<bool> {
    let mut sections = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            sections.push(true);
        } else if let Some(last) = sections.last_mut()
            && matches!(line, "a=recvonly" | "a=inactive")
        {
            *last = false;
        }
    }
    sections
}

/// Whether an offer sends any audio or video: what a guest who may only watch must not do.
pub fn sends_media(sdp: &str) -> bool {
    let kinds = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("m="))
        .map(|rest| rest.split(' ').next().unwrap_or_default());
    kinds
        .zip(sending_sections(sdp))
        .any(|(kind, sending)| sending && matches!(kind, "audio" | "video"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The media part of an offer like Chromium's.
    const BROWSER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
        a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 45\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=rtpmap:98 VP9/90000\r\n\
        a=rtpmap:45 AV1/90000\r\n";

    #[test]
    fn a_browser_offer_passes() {
        assert_eq!(check_offer(BROWSER), Ok(()));
        let with_data = format!("{BROWSER}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
        assert_eq!(check_offer(&with_data), Ok(()));
        assert_eq!(check_offer(&BROWSER.replace("\r\n", "\n")), Ok(()));
    }

    #[test]
    fn unknown_codecs_are_refused_with_what_was_offered() {
        let h265 = BROWSER
            .replace("VP8/90000", "H265/90000")
            .replace("VP9/90000", "H265/90000");
        match check_offer(&h265) {
            Err(OfferError::NoSupportedCodec {
                kind,
                offered,
                needed,
            }) => {
                assert_eq!((kind.as_str(), needed), ("video", "VP8"));
                assert!(
                    offered.contains("h265") && offered.contains("av1"),
                    "{offered}"
                );
            }
            other => panic!("{other:?}"),
        }
        let no_opus = BROWSER.replace("opus/48000/2", "ISAC/16000");
        assert!(matches!(
            check_offer(&no_opus),
            Err(OfferError::NoSupportedCodec { needed: "Opus", .. })
        ));
    }

    #[test]
    fn too_many_sections_or_tracks_and_other_media_are_refused() {
        let video = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        let two_cameras = format!("{BROWSER}{video}");
        assert_eq!(
            check_offer(&two_cameras),
            Err(OfferError::TooManyTracks("video".into()))
        );
        let many = format!("{BROWSER}{}", video.repeat(40));
        assert_eq!(check_offer(&many), Err(OfferError::TooManySections(42)));
        // Receiving sections for the others in a full session pass; one more does not.
        let receiving = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n";
        let full = format!("{BROWSER}{}", receiving.repeat(MAX_PER_KIND - 1));
        assert_eq!(check_offer(&full), Ok(()));
        assert_eq!(
            check_offer(&format!("{full}{receiving}")),
            Err(OfferError::TooManyReceivers("video".into()))
        );
        let text = "v=0\r\nm=text 9 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n";
        assert_eq!(
            check_offer(text),
            Err(OfferError::UnknownMedia("text".into()))
        );
        assert_eq!(check_offer("v=0\r\ns=-\r\n"), Err(OfferError::NoMedia));
        assert_eq!(check_offer(""), Err(OfferError::NoMedia));
    }

    #[test]
    fn an_offer_that_only_receives_sends_no_media() {
        assert!(sends_media(BROWSER));
        let watching = BROWSER
            .replace(
                "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n",
                "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\na=recvonly\r\n",
            )
            .replace(
                "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 45\r\n",
                "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 45\r\na=recvonly\r\n",
            );
        assert!(!sends_media(&watching));
        assert_eq!(check_offer(&watching), Ok(()));
        // One sending section is enough to count as publishing.
        let half = watching.replacen("a=recvonly", "a=sendrecv", 1);
        assert!(sends_media(&half));
        let data_only = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
        assert!(!sends_media(data_only));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "(m=|a=rtpmap:|[ -~]|\r\n){0,400}") {
            let _ = check_offer(&text);
        }
    }
}
