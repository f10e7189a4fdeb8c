// The demo shop page's own script (served as a file so the page's Content-Security-Policy can
// refuse inline scripts, as a real shop's strict policy might).
// The widget's page API: calls made before widget.js has loaded are queued and replayed by it.
window.kefu = window.kefu || { q: [], open: function (ctx) { this.q.push(['open', ctx]); }, close: function () {} };

(function () {
  var grid = document.getElementById('products');
  var palettes = [
    ['#a5d8ff', '#4dabf7'], ['#ffd8a8', '#ff922b'], ['#b2f2bb', '#40c057'], ['#eebefa', '#be4bdb'],
    ['#ffc9c9', '#fa5252'], ['#99e9f2', '#15aabf'], ['#d0bfff', '#7950f2'], ['#ffec99', '#fab005']
  ];
  var icons = {
    headphone: '<path d="M12 14a28 28 0 0 1 72 0v34" fill="none" stroke="#fff" stroke-width="8" stroke-linecap="round"/><rect x="4" y="44" width="24" height="38" rx="10" fill="#fff"/><rect x="68" y="44" width="24" height="38" rx="10" fill="#fff"/>',
    phone: '<rect x="26" y="4" width="44" height="88" rx="9" fill="#fff"/><rect x="32" y="14" width="32" height="62" rx="3" fill="rgba(0,0,0,.12)"/><circle cx="48" cy="84" r="3.5" fill="rgba(0,0,0,.2)"/>',
    watch: '<rect x="32" y="2" width="32" height="20" rx="4" fill="rgba(255,255,255,.75)"/><rect x="32" y="74" width="32" height="20" rx="4" fill="rgba(255,255,255,.75)"/><rect x="22" y="18" width="52" height="60" rx="16" fill="#fff"/><path d="M48 34v16l10 6" stroke="rgba(0,0,0,.25)" stroke-width="5" fill="none" stroke-linecap="round"/>',
    power: '<rect x="20" y="10" width="56" height="80" rx="12" fill="#fff"/><path d="M52 26 38 52h12l-4 22 16-30H50z" fill="rgba(0,0,0,.2)"/>',
    speaker: '<rect x="20" y="6" width="56" height="84" rx="14" fill="#fff"/><circle cx="48" cy="58" r="18" fill="rgba(0,0,0,.14)"/><circle cx="48" cy="58" r="7" fill="rgba(0,0,0,.2)"/><circle cx="48" cy="24" r="7" fill="rgba(0,0,0,.14)"/>',
    cable: '<path d="M20 80c0-30 56-20 56-50" fill="none" stroke="#fff" stroke-width="8" stroke-linecap="round"/><rect x="10" y="74" width="20" height="18" rx="4" fill="#fff"/><rect x="66" y="6" width="20" height="24" rx="4" fill="#fff"/>',
    keyboard: '<rect x="4" y="26" width="88" height="46" rx="8" fill="#fff"/><g fill="rgba(0,0,0,.16)"><rect x="12" y="34" width="10" height="8" rx="2"/><rect x="26" y="34" width="10" height="8" rx="2"/><rect x="40" y="34" width="10" height="8" rx="2"/><rect x="54" y="34" width="10" height="8" rx="2"/><rect x="68" y="34" width="16" height="8" rx="2"/><rect x="12" y="46" width="14" height="8" rx="2"/><rect x="30" y="46" width="10" height="8" rx="2"/><rect x="44" y="46" width="10" height="8" rx="2"/><rect x="58" y="46" width="26" height="8" rx="2"/><rect x="24" y="58" width="48" height="7" rx="2"/></g>',
    box: '<path d="M48 6 88 26v44L48 90 8 70V26z" fill="#fff"/><path d="M8 26l40 20 40-20M48 46v44" stroke="rgba(0,0,0,.15)" stroke-width="4" fill="none"/>'
  };
  function iconFor(name) {
    if (/耳机|耳麦|headphone|earbud/i.test(name)) return icons.headphone;
    if (/手机|phone/i.test(name)) return icons.phone;
    if (/键盘|keyboard/i.test(name)) return icons.keyboard;
    if (/手表|手环|watch|band/i.test(name)) return icons.watch;
    if (/充电宝|电源|移动电源|power/i.test(name)) return icons.power;
    if (/音箱|音响|speaker/i.test(name)) return icons.speaker;
    if (/线|充电器|cable|charger/i.test(name)) return icons.cable;
    return icons.box;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function money(cents, currency) {
    var v = (cents / 100).toFixed(2).replace(/\.00$/, '');
    return (currency && currency !== 'CNY' ? currency + ' ' : '¥') + v;
  }
  var wantedSku = new URLSearchParams(location.search).get('sku');

  // ---- demo shopper login and ordering (`kefu demo` only: the endpoints answer 404 otherwise)
  var TOKEN_KEY = 'kefu_visitor_demo';
  var account = document.getElementById('account');
  var ordersBox = document.getElementById('my-orders');
  var toastEl = document.getElementById('toast');
  function toast(text) {
    toastEl.textContent = text; toastEl.classList.add('show');
    clearTimeout(toast.t); toast.t = setTimeout(function () { toastEl.classList.remove('show'); }, 3500);
  }
  function token() { try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }
  function call(method, path, body) {
    var headers = { 'Content-Type': 'application/json' };
    var t = token(); if (t) headers.Authorization = 'Bearer ' + t;
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (d) { if (!r.ok) { var e = new Error((d.error && d.error.message) || r.status); e.status = r.status; throw e; } return d; }); });
  }
  var STATES = { unpaid: '待付款', paid: '待发货', shipped: '已发货', delivered: '已签收', completed: '已完成', cancelled: '已取消', refunded: '已退款' };
  function stateOf(o) {
    var k = o.status === 'cancelled' ? 'cancelled' : o.payment_status === 'refunded' ? 'refunded' : o.payment_status === 'unpaid' ? 'unpaid' : o.status;
    return STATES[k] || o.status;
  }
  var demo = {
    me: null,
    // The widget reads its visitor token when it starts: switching shoppers reloads the page.
    login: function (key) {
      call('POST', '/api/v1/demo/login', { key: key }).then(function (d) {
        try { localStorage.setItem(TOKEN_KEY, d.visitor_token); } catch (e) {}
        location.reload();
      }, function (e) { toast('登录失败：' + e.message); });
    },
    // Signing out of the shop ends the shopper's kefu session too (kefu.logout), then reloads.
    logout: function () {
      var done = function () { try { localStorage.removeItem(TOKEN_KEY); } catch (e) {} location.reload(); };
      if (window.kefu && window.kefu.logout) window.kefu.logout().then(done, done); else done();
    },
    order: function (p) {
      if (!demo.me) { toast('请先在右上角登录演示账号，再下单'); return; }
      call('POST', '/api/v1/demo/orders', { product_id: p.id, quantity: 1 }).then(function (o) {
        toast('下单成功！订单 ' + o.order_no + '，有问题可点右下角咨询客服');
        demo.refresh();
      }, function (e) { toast('下单失败：' + e.message); });
    },
    pay: function (o) {
      call('POST', '/api/v1/demo/orders/' + o.order_id + '/pay').then(function () { toast('支付成功，我们会尽快发货'); demo.refresh(); },
        function (e) { toast('支付失败：' + e.message); });
    },
    refresh: function () {
      return call('GET', '/api/v1/demo/orders').then(function (d) {
        demo.me = d.shopper;
        renderAccount(null);
        ordersBox.hidden = false; ordersBox.textContent = '';
        ordersBox.appendChild(el('h2', '', '我的订单'));
        if (!d.orders.length) ordersBox.appendChild(el('div', 'no', '还没有订单，挑一件喜欢的宝贝吧'));
        d.orders.forEach(function (o) {
          var row = el('div', 'order'); row.setAttribute('data-testid', 'my-order'); row.setAttribute('data-order-no', o.order_no);
          var items = el('div', 'items');
          items.appendChild(el('div', '', o.items_summary));
          items.appendChild(el('div', 'no', '订单号 ' + o.order_no));
          row.appendChild(items);
          row.appendChild(el('span', 'price', money(o.total_cents, o.currency)));
          row.appendChild(el('span', 'st' + (o.payment_status === 'unpaid' && o.status !== 'cancelled' ? ' unpaid' : ''), stateOf(o)));
          // The chat opens about this order (kefu.open, web/README.md).
          var ask = el('button', 'ask', '咨询此订单'); ask.type = 'button'; ask.setAttribute('data-testid', 'ask-order');
          ask.onclick = function () { window.kefu.open({ order_no: o.order_no }); };
          row.appendChild(ask);
          if (o.payment_status === 'unpaid' && o.status !== 'cancelled') {
            var pay = el('button', 'buy', '去支付'); pay.type = 'button'; pay.setAttribute('data-testid', 'pay');
            pay.onclick = function () { demo.pay(o); };
            row.appendChild(pay);
          }
          ordersBox.appendChild(row);
        });
      });
    }
  };
  function renderAccount(shoppers) {
    account.textContent = '';
    if (demo.me) {
      account.appendChild(el('span', '', '您好，'));
      account.appendChild(el('b', '', demo.me.name));
      var out = el('button', '', '退出'); out.type = 'button'; out.onclick = demo.logout;
      account.appendChild(out);
      return;
    }
    if (!shoppers || !shoppers.length) return;
    account.appendChild(el('span', '', '演示登录：'));
    shoppers.forEach(function (s) {
      var b = el('button', '', s.name); b.type = 'button';
      b.setAttribute('data-testid', 'demo-login'); b.setAttribute('data-key', s.key);
      b.onclick = function () { demo.login(s.key); };
      account.appendChild(b);
    });
  }
  call('GET', '/api/v1/demo/shoppers').then(function (d) {
    if (!token()) { renderAccount(d.shoppers); return; }
    demo.refresh().catch(function () { renderAccount(d.shoppers); });
  }, function () { /* not `kefu demo`: no login, no ordering */ });

  function render(products) {
    grid.textContent = '';
    if (!products.length) { grid.appendChild(el('div', 'state', '暂无商品')); return; }
    products.forEach(function (p, i) {
      var card = el('article', 'card');
      card.setAttribute('data-testid', 'product');
      var pic = el('div', 'pic');
      var pal = palettes[i % palettes.length];
      pic.style.background = 'linear-gradient(135deg,' + pal[0] + ',' + pal[1] + ')';
      var url = p.image_url || '';
      var m = /^color:(#[0-9a-fA-F]{3,8})$/.exec(url);
      if (m) pic.style.background = 'radial-gradient(circle at 30% 25%, rgba(255,255,255,.45), transparent 55%), linear-gradient(135deg,' + m[1] + 'aa,' + m[1] + ')';
      if (/^(data:image\/|\/(?!\/))/.test(url)) {
        var img = document.createElement('img'); img.src = url; img.alt = p.name || ''; pic.appendChild(img);
      } else {
        pic.innerHTML = '<svg viewBox="0 0 96 96" aria-hidden="true">' + iconFor(String(p.name || '')) + '</svg>';
      }
      var info = el('div', 'info');
      info.appendChild(el('div', 'name', p.name));
      info.appendChild(el('div', 'desc', p.description || ''));
      var row = el('div', 'row');
      var price = el('div', 'price', money(p.price_cents || 0, p.currency));
      row.appendChild(price);
      row.appendChild(el('span', 'sku', p.sku || ''));
      info.appendChild(row);
      var btns = el('div', 'btns');
      var buy = el('button', 'buy', '加入购物车');
      buy.type = 'button';
      var now = el('button', 'buy now', '立即购买');
      now.type = 'button';
      now.setAttribute('data-testid', 'buy-now');
      now.onclick = function () { demo.order(p); };
      // The chat opens about this product, so the agent sees which one "这款" is.
      var ask = el('button', 'ask ask-float', '咨询客服');
      ask.type = 'button';
      ask.setAttribute('data-testid', 'ask-product');
      ask.onclick = function () { window.kefu.open({ sku: p.sku }); };
      pic.appendChild(ask);
      btns.appendChild(buy); btns.appendChild(now);
      info.appendChild(btns);
      card.setAttribute('data-sku', p.sku || '');
      if (wantedSku && p.sku === wantedSku) { card.classList.add('hl'); setTimeout(function () { card.scrollIntoView({ block: 'center' }); }, 50); }
      card.appendChild(pic); card.appendChild(info);
      grid.appendChild(card);
    });
  }
  fetch('/api/v1/widget/products?shop=demo')
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (d) { render(d.products || []); })
    .catch(function () { grid.textContent = ''; grid.appendChild(el('div', 'state', '商品加载失败，请稍后刷新')); });
})();

// Demo login: the shop's own server would sign the logged-in shopper's identity with the shop's
// identity secret and put it on the page. kefu plays that server for the demo shoppers
// (GET /demo/identity?as=demo-…), and the widget passes it on (window.kefuIdentity).
(function () {
  var params = new URLSearchParams(location.search);
  var as = params.get('as');
  var bar = document.getElementById('demo-login');
  var who = document.getElementById('demo-who');
  if (params.get('logout')) { try { localStorage.removeItem('kefu_visitor_demo'); } catch (e) {} }
  function loadWidget() {
    var s = document.createElement('script');
    s.src = '/widget.js';
    s.setAttribute('data-shop', 'demo');
    document.body.appendChild(s);
  }
  if (!as) { who.textContent = '未登录（匿名访客）'; loadWidget(); return; }
  fetch('/demo/identity?as=' + encodeURIComponent(as))
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (d) {
      window.kefuIdentity = d.identity;
      who.textContent = '已登录：' + (d.identity.name || as) + '（会员号 ' + as + '）';
      bar.setAttribute('data-logged-in', as);
    })
    .catch(function () { who.textContent = '登录失败：没有这个演示会员'; })
    .then(loadWidget);
})();

// The search box is decorative: keep Enter from reloading the page.
document.querySelector('form.search').addEventListener('submit', function (e) { e.preventDefault(); });
