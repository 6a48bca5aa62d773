//! What the hub accepts in a participant's SDP offer, checked before any media resource is
//! taken: at most one audio and one video section (plus one data-channel section), audio that
//! offers Opus and video that offers VP8 (what the hub forwards and records), and no other
//! kind of media. Pure: the text in, a reason out.

/// Most `m=` sections accepted: audio, video and a data channel.
pub const MAX_SECTIONS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("the offer has no media section")]
    NoMedia,
    #[error(
        "the offer has {0} media sections; at most {MAX_SECTIONS} are accepted (audio, video, data)"
    )]
    TooManySections(usize),
    #[error(
        "the offer has more than one {0} section; one camera and one microphone per participant"
    )]
    TooManyTracks(String),
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
    for (kind, codecs) in &sections {
        let needed = match kind.as_str() {
            "audio" => Some(("opus", "Opus")),
            "video" => Some(("vp8", "VP8")),
            "application" => None,
            other => return Err(OfferError::UnknownMedia(other.to_owned())),
        };
        if seen.contains(&kind.as_str()) {
            return Err(OfferError::TooManyTracks(kind.clone()));
        }
        seen.push(kind);
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
        let text = "v=0\r\nm=text 9 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n";
        assert_eq!(
            check_offer(text),
            Err(OfferError::UnknownMedia("text".into()))
        );
        assert_eq!(check_offer("v=0\r\ns=-\r\n"), Err(OfferError::NoMedia));
        assert_eq!(check_offer(""), Err(OfferError::NoMedia));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "(m=|a=rtpmap:|[ -~]|\r\n){0,400}") {
            let _ = check_offer(&text);
        }
    }
}
