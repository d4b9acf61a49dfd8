'use strict';
// A small XMLHttpRequest level 2 for Node, so that old engine.io-clients take their *browser*
// code path: with `responseType` present they announce binary support (no `b64=1`) and use the
// XHR2 binary payload framing, as a browser extension does. The `xmlhttprequest(-ssl)` packages
// they normally get in Node have no `responseType` and force base64 text payloads.
//
// Only what engine.io-client 1.5 and 3.5 touch is implemented.

const http = require('http');
const { URL } = require('url');

class XMLHttpRequest {
  constructor() {
    this.readyState = 0;
    this.status = 0;
    this.responseType = '';
    this.response = null;
    this.responseText = '';
    this.withCredentials = false;
    this.onreadystatechange = null;
    this._headers = {};
    this._responseHeaders = {};
    this._req = null;
  }

  open(method, url) {
    this._method = method;
    this._url = new URL(url);
    this._setState(1);
  }

  setRequestHeader(name, value) {
    this._headers[name] = value;
  }

  getResponseHeader(name) {
    const value = this._responseHeaders[name.toLowerCase()];
    return value === undefined ? null : value;
  }

  getAllResponseHeaders() {
    return Object.entries(this._responseHeaders).map(([k, v]) => `${k}: ${v}`).join('\r\n');
  }

  send(data) {
    let body = null;
    if (data !== undefined && data !== null) {
      if (typeof data === 'string') body = Buffer.from(data, 'utf8');
      else if (Buffer.isBuffer(data)) body = data;
      else if (data instanceof ArrayBuffer) body = Buffer.from(data);
      else if (ArrayBuffer.isView(data)) body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      else body = Buffer.from(String(data), 'utf8');
    }
    const headers = Object.assign({}, this._headers);
    if (body) headers['Content-Length'] = body.length;
    const req = http.request({
      method: this._method,
      hostname: this._url.hostname,
      port: this._url.port,
      path: this._url.pathname + this._url.search,
      headers,
      agent: false,
    }, (res) => {
      this.status = res.statusCode;
      this._responseHeaders = res.headers;
      this._setState(2);
      const chunks = [];
      res.on('data', (chunk) => {
        chunks.push(chunk);
        this._setState(3);
      });
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        this.responseText = buf.toString('utf8');
        // Node's engine.io-parser reads binary payloads from a Buffer
        this.response = this.responseType === 'arraybuffer' ? buf : this.responseText;
        this._req = null;
        this._setState(4);
      });
    });
    req.on('error', () => {
      this.status = 0;
      this._req = null;
      this._setState(4);
    });
    this._req = req;
    if (body) req.write(body);
    req.end();
  }

  abort() {
    if (this._req) {
      const req = this._req;
      this._req = null;
      req.destroy();
    }
  }

  _setState(state) {
    this.readyState = state;
    if (this.onreadystatechange) this.onreadystatechange();
  }
}

// Install the shim in place of the packages the old clients require in Node.
function install() {
  const path = require('path');
  const roots = [
    path.dirname(require.resolve('engine.io-client/package.json')),
    path.dirname(require.resolve('sio2/package.json')),
  ];
  const seen = new Set();
  for (const root of roots) {
    for (const name of ['xmlhttprequest', 'xmlhttprequest-ssl']) {
      let file;
      try {
        file = require.resolve(name, { paths: [root] });
      } catch (e) {
        continue;
      }
      if (seen.has(file)) continue;
      seen.add(file);
      require.cache[file] = { id: file, filename: file, loaded: true, exports: XMLHttpRequest };
    }
  }
}

module.exports = { XMLHttpRequest, install };
