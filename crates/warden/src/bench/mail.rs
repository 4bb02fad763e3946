//! The e-mail row of `warden bench intake`: a typical ARF feedback report (RFC 5965: a text
//! part, the `message/feedback-report` part, the original message's header), about 2 KiB, each
//! with its own `Message-ID` so every one is a new message, about one of the bench's hosted
//! sites — parsed, correlated and stored like the JSON reports beside it.

/// The `n`-th message: `Reported-Domain` is one of the bench's 100 hosted sites.
pub(super) fn arf_message(n: usize) -> String {
    let site = n % 100;
    format!(
        "From: Feedback Loop <fbl@isp.example>\r\n\
To: abuse@provider.example\r\n\
Subject: FW: abuse report {n}\r\n\
Date: Tue, 01 Dec 2026 03:00:00 +0000\r\n\
Message-ID: <fbl-{n}@isp.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=\"fbl\"\r\n\
\r\n\
--fbl\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This is an e-mail abuse report for a message received from IP 192.0.2.{ip} on\r\n\
Tue, 01 Dec 2026 02:58:00 +0000. It advertises site{site}.example.com.\r\n\
\r\n\
--fbl\r\n\
Content-Type: message/feedback-report\r\n\
\r\n\
Feedback-Type: abuse\r\n\
User-Agent: ExampleFBL/1.0\r\n\
Version: 1\r\n\
Original-Mail-From: <promo@site{site}.example.com>\r\n\
Arrival-Date: Tue, 01 Dec 2026 02:58:00 +0000\r\n\
Source-IP: 192.0.2.{ip}\r\n\
Reported-Domain: site{site}.example.com\r\n\
\r\n\
--fbl\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
Received: from mta.site{site}.example.com (mta.site{site}.example.com [192.0.2.{ip}])\r\n\
\tby mx.isp.example with ESMTP id {n}; Tue, 01 Dec 2026 02:58:00 +0000\r\n\
From: Promotions <promo@site{site}.example.com>\r\n\
To: someone@isp.example\r\n\
Subject: Big casino bonus, today only\r\n\
Date: Tue, 01 Dec 2026 02:57:00 +0000\r\n\
Message-ID: <promo-{n}@site{site}.example.com>\r\n\
\r\n\
--fbl--\r\n",
        ip = 1 + n % 250,
    )
}
