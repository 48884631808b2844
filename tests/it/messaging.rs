//! The messaging contract through the sandbox provider: every channel, the recipient-chosen
//! outcomes, validation and idempotency, and the status events it reports.

use std::time::Duration;

use integ_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use integ_proto::messaging::v1::*;
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel as Grpc;
use tonic_types::StatusExt;

use crate::assert_status;
use crate::events::consume;

async fn client() -> (Running, MessagingServiceClient<Grpc>) {
    let adapter = Start::new("messaging").spawn().await.unwrap();
    let client = MessagingServiceClient::new(adapter.channel().await);
    (adapter, client)
}

fn email(to: &str, key: &str) -> SendEmailRequest {
    SendEmailRequest {
        from: Some(EmailAddress {
            address: "shop@example.com".into(),
            name: "Shop".into(),
        }),
        to: vec![EmailAddress {
            address: to.into(),
            name: String::new(),
        }],
        subject: "Your receipt".into(),
        text_body: "Thank you.".into(),
        tags: vec!["receipt".into()],
        idempotency_key: key.into(),
        ..Default::default()
    }
}

fn sms(to: &str, key: &str) -> SendSmsRequest {
    SendSmsRequest {
        to: to.into(),
        from: "+14155550100".into(),
        body: "Your code is 123456".into(),
        idempotency_key: key.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn emails_are_sent_read_back_and_reported_as_events() {
    let (adapter, mut c) = client().await;
    let mut consumer = consume(adapter.channel().await, "mail", &["message."], 30).await;

    let sent = c
        .send_email(email("ana@example.com", "e-1"))
        .await
        .unwrap()
        .into_inner();
    let message = sent.message.unwrap();
    assert_eq!(sent.provider, "sandbox");
    assert!(message.id.starts_with("msg_"), "{message:?}");
    assert_eq!(
        (message.channel(), message.status()),
        (Channel::Email, MessageStatus::Delivered)
    );
    assert_eq!(message.tags, ["receipt"]);

    let again = c
        .send_email(email("ana@example.com", "e-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.message.unwrap().id,
        message.id,
        "same key, same message"
    );

    let read = c
        .get_message(GetMessageRequest {
            id: message.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_eq!(
        (read.id.as_str(), read.status()),
        (message.id.as_str(), MessageStatus::Delivered)
    );

    let bounced = c
        .send_email(email("bounce-me@example.com", "e-2"))
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_eq!(bounced.status(), MessageStatus::Bounced);
    assert_eq!(bounced.error.unwrap().provider_code, "bounce");

    let got = consumer.take(2, Duration::from_secs(10)).await;
    let mut types: Vec<_> = got
        .iter()
        .map(|r| r.event.as_ref().unwrap().r#type.clone())
        .collect();
    types.sort();
    assert_eq!(types, ["message.bounced", "message.delivered"]);
    let delivered = got
        .iter()
        .map(|r| r.event.as_ref().unwrap())
        .find(|e| e.r#type == "message.delivered")
        .unwrap();
    assert_eq!(delivered.resource.as_ref().unwrap().id, message.id);
}

#[tokio::test]
async fn sms_voice_and_push_follow_the_sandbox_numbers() {
    let (_adapter, mut c) = client().await;
    let ok = c
        .send_sms(sms("+447700900123", "s-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.message.unwrap().status(), MessageStatus::Delivered);

    let unreachable = c
        .send_sms(sms("+15005550009", "s-2"))
        .await
        .unwrap()
        .into_inner();
    let m = unreachable.message.unwrap();
    assert_eq!(m.status(), MessageStatus::Undelivered);
    assert_eq!(m.error.unwrap().provider_code, "30003");

    let invalid = c.send_sms(sms("+15005550001", "s-3")).await.unwrap_err();
    assert_status(&invalid, Code::InvalidArgument, "INVALID_ARGUMENT");
    let info = invalid.get_details_error_info().unwrap();
    assert_eq!(info.metadata["provider"], "sandbox");
    assert_eq!(info.metadata["provider_code"], "21211");

    let call = c
        .start_voice_call(StartVoiceCallRequest {
            to: "+14155550123".into(),
            from: "+14155550100".into(),
            instructions: Some(start_voice_call_request::Instructions::Speech(Speech {
                text: "Your code is one two three".into(),
                ..Default::default()
            })),
            idempotency_key: "v-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_eq!(
        (call.channel(), call.status()),
        (Channel::Voice, MessageStatus::Sent)
    );

    let push = |target, key: &str| SendPushRequest {
        target: Some(target),
        notification: Some(PushNotification {
            title: "Hi".into(),
            body: "There".into(),
            ..Default::default()
        }),
        idempotency_key: key.into(),
        ..Default::default()
    };
    let sent = c
        .send_push(push(send_push_request::Target::Topic("news".into()), "p-1"))
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_eq!(
        (sent.channel(), sent.status()),
        (Channel::Push, MessageStatus::Sent)
    );
    let unregistered = c
        .send_push(push(
            send_push_request::Target::DeviceToken("invalid-token".into()),
            "p-2",
        ))
        .await
        .unwrap_err();
    assert_eq!(unregistered.code(), Code::InvalidArgument);
    assert_eq!(
        unregistered.get_details_error_info().unwrap().metadata["provider_code"],
        "UNREGISTERED"
    );
}

#[tokio::test]
async fn bad_requests_name_the_field_and_reuse_of_a_key_conflicts() {
    let (_adapter, mut c) = client().await;
    let err = c
        .send_sms(sms("0044 7700 900123", "b-1"))
        .await
        .unwrap_err();
    assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
    let bad = err.get_details_bad_request().unwrap();
    assert_eq!(bad.field_violations[0].field, "to");

    let mut no_body = email("ana@example.com", "b-2");
    no_body.text_body.clear();
    let err = c.send_email(no_body).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let mut only_cc = email("ana@example.com", "b-4");
    only_cc.cc = std::mem::take(&mut only_cc.to);
    let err = c.send_email(only_cc).await.unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "to"
    );

    let mut big = email("ana@example.com", "b-5");
    big.attachments.push(Attachment {
        filename: "scan.pdf".into(),
        content_type: "application/pdf".into(),
        content: vec![7; 6 << 20],
    });
    c.send_email(big)
        .await
        .expect("attachments up to 7 MiB pass the transport");

    let mut no_key = email("ana@example.com", "");
    no_key.idempotency_key.clear();
    let err = c.send_email(no_key).await.unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "idempotency_key"
    );

    c.send_sms(sms("+447700900123", "b-3")).await.unwrap();
    let mut other = sms("+447700900124", "b-3");
    other.body = "something else".into();
    let err = c.send_sms(other).await.unwrap_err();
    assert_status(&err, Code::AlreadyExists, "CONFLICT");

    let err = c
        .get_message(GetMessageRequest {
            id: "msg_doesnotexist".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
