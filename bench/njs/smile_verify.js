// bench/njs/smile_verify.js - the `njs` variant of bench/run: Smile webhook
// verification with Debian's libnginx-mod-http-js (njs 0.7.9).
//
//   js_path ".../bench/njs/";
//   js_import smile from smile_verify.js;
//   location = /smile/webhook { js_content smile.verify; }
//   location @smile_proxy     { proxy_pass ...; }
//
// njs 0.7.9's crypto.createHmac() has no SHA-512, so the only working
// HMAC-SHA512 is WebCrypto: crypto.subtle.importKey + crypto.subtle.sign.
// A CryptoKey cannot be kept between requests (every request runs in a
// fresh clone of the VM, and importKey is asynchronous, so it cannot run
// at load time), hence one importKey per request.  The computed MAC is
// compared with the decoded Smile-Signature header in constant time (an
// OR of XORs; crypto.subtle.verify would be memcmp), then the request is
// redirected to the proxying location, with the body already read.
// No JSON parsing: this variant only verifies.

import fs from 'fs';

// the example secret from Smile's documentation, as bench/run configures
// for every variant
const SECRET = Buffer.from('a little secret');

const HEX128 = /^[0-9a-fA-F]{128}$/;

async function verify(r) {
    if (r.method !== 'POST') {
        r.return(405);
        return;
    }

    const sig = r.headersIn['Smile-Signature'];

    if (typeof sig !== 'string' || !HEX128.test(sig)) {
        r.return(401);
        return;
    }

    let body = r.requestBuffer;

    if (body === undefined) {
        // larger than client_body_buffer_size: nginx spilled it to a file
        body = fs.readFileSync(r.variables.request_body_file);
    }

    const key = await crypto.subtle.importKey('raw', SECRET,
                                              { name: 'HMAC', hash: 'SHA-512' },
                                              false, ['sign']);
    const signed = await crypto.subtle.sign('HMAC', key, body);
    const mac = new Uint8Array(signed);
    const want = Buffer.from(sig, 'hex');

    let diff = 0;

    for (let i = 0; i < 64; i++) {
        diff |= mac[i] ^ want[i];
    }

    if (diff !== 0) {
        r.return(401);
        return;
    }

    r.internalRedirect('@smile_proxy');
}

export default { verify };
