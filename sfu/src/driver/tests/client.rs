//! A hall for the in-memory tests: a sans-IO `rtc` peer connection with the SFU's codecs
//! that publishes a camera and a microphone (synthetic VP8 and Opus packets) and asks
//! for receive slots, and what it received.

use crate::config::SfuConfig;
use crate::driver::conn;
use crate::driver::peer::{self, MIME_OPUS, MIME_VP8};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverId};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use std::net::SocketAddr;
use std::time::Instant;

/// The SSRC of every hall's camera and microphone (each hall is its own connection).
pub const VIDEO_SSRC: u32 = 0x1111_0001;
pub const AUDIO_SSRC: u32 = 0x1111_0002;

/// An RTP packet as the hall received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub ssrc: u32,
    pub payload_type: u8,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// One hall's peer connection and what happened to it.
pub struct Hall {
    /// Its address on the simulated network.
    pub addr: SocketAddr,
    pub pc: RTCPeerConnection,
    /// Its connection reached `Connected` (ICE and DTLS done, SRTP keyed).
    pub connected: bool,
    /// RTP that reached it, in order.
    pub received: Vec<Received>,
    /// When keyframe requests (PLI, FIR) reached it.
    pub keyframe_requests: Vec<Instant>,
    /// Its camera and microphone senders, once it publishes.
    senders: Vec<(RtpCodecKind, RTCRtpTransceiverId)>,
    /// Sequence numbers of its camera and microphone.
    seq: [u16; 2],
}

impl Hall {
    /// A hall at `addr` that publishes a camera and a microphone if `publishes`, and
    /// asks for `slots` (video, audio) receive slots.
    pub fn new(now: Instant, addr: SocketAddr, publishes: bool, slots: (usize, usize)) -> Self {
        let config = SfuConfig::default();
        let mut engine = peer::media_engine(&config).expect("the SFU's codecs");
        let (registry, _) =
            peer::interceptors(&mut engine, &Default::default()).expect("the SFU's interceptors");
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .build(now)
            .expect("a peer connection");
        let mut senders = Vec::new();
        if publishes {
            for (kind, ssrc, mime, rate, channels) in [
                (RtpCodecKind::Video, VIDEO_SSRC, MIME_VP8, 90_000, 0),
                (RtpCodecKind::Audio, AUDIO_SSRC, MIME_OPUS, 48_000, 2),
            ] {
                let coding = RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec: RTCRtpCodec {
                        mime_type: mime.to_owned(),
                        clock_rate: rate,
                        channels,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let id = match kind {
                    RtpCodecKind::Audio => "microphone".to_owned(),
                    _ => "camera".to_owned(),
                };
                let track =
                    MediaStreamTrack::new("hall".to_owned(), id.clone(), id, kind, vec![coding]);
                let init = RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: Vec::new(),
                    send_encodings: Vec::new(),
                };
                let t = pc
                    .add_transceiver_from_track(track, Some(init))
                    .expect("a sending transceiver");
                senders.push((kind, t));
            }
        }
        let kinds = std::iter::repeat_n(RtpCodecKind::Video, slots.0)
            .chain(std::iter::repeat_n(RtpCodecKind::Audio, slots.1));
        for kind in kinds {
            let init = RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                streams: Vec::new(),
                send_encodings: Vec::new(),
            };
            pc.add_transceiver_from_kind(kind, Some(init))
                .expect("a receiving transceiver");
        }
        let candidate = conn::host_candidate(addr).expect("a host candidate");
        pc.add_local_candidate(candidate).expect("the candidate");
        Self {
            addr,
            pc,
            connected: false,
            received: Vec::new(),
            keyframe_requests: Vec::new(),
            senders,
            seq: [1000, 5000],
        }
    }

    /// Its offer.
    pub fn offer(&mut self, now: Instant) -> String {
        let offer = self.pc.create_offer(None).expect("an offer");
        self.pc
            .set_local_description(now, offer)
            .expect("our own offer applies");
        self.pc.local_description().expect("the offer").sdp
    }

    /// Applies the SFU's answer.
    pub fn accept(&mut self, now: Instant, answer: String) {
        let answer = RTCSessionDescription::answer(answer).expect("an answer");
        self.pc
            .set_remote_description(now, answer)
            .expect("the SFU's answer applies");
    }

    /// Moves the camera's sequence numbers on by `n`, as if it had sent `n` packets the
    /// SFU never got (keep `n` under 2^15 per call: a larger jump reads as late).
    pub fn skip_camera(&mut self, n: u16) {
        self.seq[0] = self.seq[0].wrapping_add(n);
    }

    /// Sends one camera packet (a keyframe's first packet if `keyframe`) and one
    /// microphone packet; the payloads carry `n` so the viewer can tell them apart.
    pub fn send_media(&mut self, now: Instant, n: u32, keyframe: bool) {
        let senders = self.senders.clone();
        for (i, (kind, transceiver)) in senders.into_iter().enumerate() {
            let (ssrc, payload, step) = match kind {
                RtpCodecKind::Video => {
                    // VP8 descriptor (start of partition 0), then the P bit: 0 keyframe.
                    let p = if keyframe { 0x00 } else { 0x01 };
                    let mut payload = vec![0x10, p, 0x9D, 0x01, 0x2A];
                    payload.extend_from_slice(&n.to_be_bytes());
                    (VIDEO_SSRC, payload, 3000)
                }
                _ => {
                    let mut payload = vec![0xF8, 0xFF];
                    payload.extend_from_slice(&n.to_be_bytes());
                    (AUDIO_SSRC, payload, 960)
                }
            };
            let Some(sender) = self.sender(transceiver) else {
                continue;
            };
            let mut sender = self.pc.rtp_sender(sender).expect("a sender");
            let payload_type = sender
                .get_parameters()
                .rtp_parameters
                .codecs
                .first()
                .map(|c| c.payload_type)
                .expect("a negotiated codec");
            self.seq[i] = self.seq[i].wrapping_add(1);
            let packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker: true,
                    payload_type,
                    sequence_number: self.seq[i],
                    timestamp: n.wrapping_mul(step),
                    ssrc,
                    ..Default::default()
                },
                payload: payload.into(),
            };
            sender.write_rtp(now, packet).expect("rtc takes the packet");
        }
    }

    fn sender(&mut self, transceiver: RTCRtpTransceiverId) -> Option<RTCRtpSenderId> {
        self.pc.rtp_transceiver(transceiver)?.sender()
    }

    /// Reads what its connection has for the application at `now`.
    pub fn drain(&mut self, now: Instant) {
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                self.connected = state == RTCPeerConnectionState::Connected;
            }
        }
        while let Some(message) = self.pc.poll_read() {
            match message.message {
                RTCMessage::RtpPacket(_, p) => self.received.push(Received {
                    ssrc: p.header.ssrc,
                    payload_type: p.header.payload_type,
                    seq: p.header.sequence_number,
                    payload: p.payload.to_vec(),
                }),
                RTCMessage::RtcpPacket(_, packets) => {
                    let requests = packets
                        .iter()
                        .filter(|p| crate::driver::rtcpfwd::is_keyframe_request(p.as_ref()));
                    self.keyframe_requests.extend(requests.map(|_| now));
                }
                _ => {}
            }
        }
    }

    /// The packets received with SSRC `ssrc`.
    pub fn received_on(&self, ssrc: u32) -> Vec<&Received> {
        self.received.iter().filter(|r| r.ssrc == ssrc).collect()
    }
}
