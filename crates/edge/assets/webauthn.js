// Portcullis passkeys in the browser (docs/design/mfa.md, "Passkeys in the browser").
// Served by the binary at /assets/webauthn.js; only pages with a passkey form load it, and their
// CSP allows `script-src 'self'` for it (nothing inline). No dependency.
//
// A form marked `data-passkey="create"` or `data-passkey="get"` runs the WebAuthn ceremony when it
// is submitted: the options come from `data-options` (JSON, with the ceremony handle already in
// the form's `ceremony` field) or from a same-origin POST to `data-options-url` carrying the form's
// CSRF token. The browser's answer is put, as JSON with base64url binary fields (what the server's
// webauthn-rs reads), into the form's `credential` field and the form is posted as usual: the
// server answers with a page, exactly as for its other forms. Failures are shown in the element
// named by `data-error`, next to the button. Elements marked `data-passkey-reveal` are shown only
// when this browser can use passkeys; without script they stay hidden and the page works without.
'use strict';

(() => {
  const toBuffer = (text) => {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) => {
    let bin = '';
    for (const byte of new Uint8Array(buffer)) bin += String.fromCharCode(byte);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBuffer(c.id) }));

  // The server's options (base64url) as the browser API takes them (ArrayBuffers).
  const creationOptions = (o) => ({
    ...o,
    challenge: toBuffer(o.challenge),
    user: { ...o.user, id: toBuffer(o.user.id) },
    excludeCredentials: withIds(o.excludeCredentials),
  });
  const requestOptions = (o) => ({
    ...o,
    challenge: toBuffer(o.challenge),
    allowCredentials: withIds(o.allowCredentials),
  });

  // The browser's answer as JSON. Client extension results are not sent: they are unsigned and
  // the server does not use them.
  const answer = (cred) => {
    const r = cred.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response,
      extensions: {},
      authenticatorAttachment: cred.authenticatorAttachment || null,
    };
  };

  const MESSAGES = {
    NotAllowedError: 'The passkey request was cancelled or timed out. Try again.',
    InvalidStateError: 'This authenticator already holds a passkey for your account.',
    SecurityError: 'Passkeys cannot be used on this address.',
    NotSupportedError: 'This browser or authenticator cannot make this kind of passkey.',
  };

  async function options(form) {
    if (form.dataset.options) return JSON.parse(form.dataset.options);
    const body = new URLSearchParams({ csrf: form.elements.csrf.value });
    const res = await fetch(form.dataset.optionsUrl, {
      method: 'POST',
      body,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(json.message || 'Passkeys are unavailable.'), { shown: true });
    form.elements.ceremony.value = json.ceremony;
    return json.publicKey;
  }

  function setUp(form) {
    const error = document.getElementById(form.dataset.error || '');
    const button = form.querySelector('button[type="submit"]');
    const show = (message) => {
      if (!error) return;
      error.textContent = message;
      error.hidden = false;
    };
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (button) button.disabled = true;
      try {
        const publicKey = await options(form);
        const cred = form.dataset.passkey === 'create'
          ? await navigator.credentials.create({ publicKey: creationOptions(publicKey) })
          : await navigator.credentials.get({ publicKey: requestOptions(publicKey) });
        form.elements.credential.value = JSON.stringify(answer(cred));
        form.submit();
      } catch (e) {
        show(e.shown ? e.message : MESSAGES[e.name] || 'The passkey could not be used. Try again.');
        if (button) button.disabled = false;
      }
    });
  }

  const usable = typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
  if (!usable) return;
  for (const el of document.querySelectorAll('[data-passkey-reveal]')) el.hidden = false;
  for (const form of document.querySelectorAll('form[data-passkey]')) setUp(form);
})();
