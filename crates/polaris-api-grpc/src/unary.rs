//! A complete unary gRPC reply written without tonic's server: one uncompressed message
//! frame, then `grpc-status: 0` in the trailers (for answers made in front of the router).

use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;
use http_body_util::StreamBody;
use prost::Message;
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, HeaderValue, Response};

/// `message` as the whole reply of a unary call.
pub(crate) fn reply(message: &impl Message) -> Response<Body> {
    let len = message.encoded_len();
    let mut frame = BytesMut::with_capacity(5 + len);
    frame.put_u8(0);
    frame.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    message.encode_raw(&mut frame);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = [
        Ok::<_, Infallible>(Frame::data(Bytes::from(frame))),
        Ok(Frame::trailers(trailers)),
    ];
    let mut response = Response::new(Body::new(StreamBody::new(tokio_stream::iter(frames))));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/grpc"));
    response
}

#[cfg(test)]
mod tests {
    use bytes::Buf;
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn the_reply_is_one_frame_then_grpc_status_0() {
        let message = polaris_proto::v1::ConfigClientResponse {
            code: Some(200_001),
            ..Default::default()
        };
        let response = reply(&message);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(trailers["grpc-status"], "0");
        let mut bytes = collected.to_bytes();
        assert_eq!(bytes.get_u8(), 0);
        assert_eq!(bytes.get_u32() as usize, bytes.len());
        assert_eq!(
            polaris_proto::v1::ConfigClientResponse::decode(bytes).unwrap(),
            message
        );
    }
}
