export const CSS = `
:host { all: initial; --kc: #2563eb; --kc-dark: #1d4ed8; --kc-soft: #eaf1ff; --kc-line: #dbeafe; --kc-shadow: rgba(29, 78, 216, .35); }
* { box-sizing: border-box; }
.launcher, .panel { font-family: -apple-system, BlinkMacSystemFont, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Segoe UI", Roboto, sans-serif; font-size: 14px; line-height: 1.5; color: #1f2430; }
.launcher { position: fixed; right: 24px; bottom: 24px; width: 58px; height: 58px; border-radius: 50%; border: 0; cursor: pointer;
  background: linear-gradient(135deg, var(--kc), var(--kc-dark)); color: #fff; box-shadow: 0 8px 24px var(--kc-shadow); display: grid; place-items: center; transition: transform .15s; padding: 0; }
.launcher:hover { transform: scale(1.05); }
.launcher .ic-close { display: none; }
.launcher.open .ic-close { display: block; }
.launcher.open .ic-chat { display: none; }
.badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px; background: #ef4444; color: #fff; font-size: 11px; font-weight: 700; display: none; align-items: center; justify-content: center; border: 2px solid #fff; }
.badge.show { display: flex; }
.panel { position: fixed; right: 24px; bottom: 96px; width: 370px; height: min(600px, calc(100vh - 120px)); background: #fff; border-radius: 16px; box-shadow: 0 16px 48px rgba(16, 24, 40, .22);
  display: none; flex-direction: column; overflow: hidden; }
.panel.open { display: flex; animation: pop .18s ease-out; }
@keyframes pop { from { opacity: 0; transform: translateY(10px); } to { opacity: 1; transform: none; } }
.head { display: flex; align-items: center; gap: 10px; padding: 14px 14px 14px 16px; background: linear-gradient(135deg, var(--kc), var(--kc-dark)); color: #fff; }
.head-avatar { width: 38px; height: 38px; border-radius: 50%; background: rgba(255,255,255,.2); display: grid; place-items: center; font-weight: 700; font-size: 16px; flex: none; }
.head-text { flex: 1; min-width: 0; }
.title { font-weight: 600; font-size: 15px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.subtitle { font-size: 12px; opacity: .9; display: flex; align-items: center; gap: 6px; }
.subtitle::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: #cbd5e1; }
.subtitle.on::before { background: #4ade80; }
.close { background: transparent; border: 0; color: #fff; font-size: 24px; line-height: 1; cursor: pointer; width: 32px; height: 32px; border-radius: 8px; }
.close:hover { background: rgba(255,255,255,.15); }
.banner { background: #fff4e5; color: #9a5b00; font-size: 12px; text-align: center; padding: 5px; }
.queue { background: var(--kc-soft); color: var(--kc-dark); font-size: 12.5px; text-align: center; padding: 7px 10px; border-bottom: 1px solid var(--kc-line); }
.hidden { display: none !important; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.hidden-prechat { display: none !important; }
.prechat { flex: 1; display: flex; flex-direction: column; gap: 10px; padding: 16px; overflow: auto; }
.prechat .intro { margin: 0; color: #5b6270; font-size: 13px; line-height: 1.5; }
.prechat label { display: flex; flex-direction: column; gap: 4px; font-size: 13px; color: #1f2430; }
.prechat input { border: 1px solid #d5d9e0; border-radius: 8px; padding: 8px 10px; font: inherit; }
.prechat .send { align-self: stretch; }
.prechat-error { color: #c0392b; font-size: 12.5px; min-height: 1em; }
.list { flex: 1; overflow-y: auto; padding: 14px 14px 6px; background: #f7f8fa; display: flex; flex-direction: column; gap: 10px; }
.row { display: flex; flex-direction: column; max-width: 82%; }
.row.mine { align-self: flex-end; align-items: flex-end; }
.row.theirs { align-self: flex-start; align-items: flex-start; }
.row.center { align-self: center; align-items: center; max-width: 90%; }
.who { font-size: 11.5px; color: #8d93a0; margin: 0 0 3px 4px; }
.bubble { padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; word-break: break-word; overflow-wrap: anywhere; }
.mine .bubble { background: var(--kc); color: #fff; border-bottom-right-radius: 4px; }
.theirs .bubble { background: #fff; border: 1px solid #e6e8ec; border-bottom-left-radius: 4px; }
.theirs .bubble.bot { background: #eef4ff; border-color: #d7e4ff; }
.center .bubble { background: #eef0f4; color: #5b6270; font-size: 12.5px; border-radius: 10px; text-align: center; }
.bubble.pending { opacity: .65; }
.bubble.failed { background: #fee2e2 !important; color: #7f1d1d !important; }
.status, .time { font-size: 11px; color: #8d93a0; margin-top: 3px; display: flex; gap: 6px; }
.retry { border: 0; background: none; color: var(--kc); cursor: pointer; padding: 0; font: inherit; }
.notice { align-self: center; font-size: 12.5px; color: #92400e; background: #fffbeb; border: 1px solid #fde68a; border-radius: 10px; padding: 8px 12px; text-align: center; max-width: 92%; white-space: pre-wrap; }
.typing { font-size: 12px; color: #8d93a0; padding: 2px 16px 4px; background: #f7f8fa; }
.composer { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid #e6e8ec; background: #fff; align-items: flex-end; margin: 0; }
textarea { flex: 1; resize: none; border: 1px solid #e2e5ea; border-radius: 10px; padding: 8px 10px; font: inherit; color: inherit; outline: none; min-height: 38px; max-height: 120px; background: #fff; }
textarea:focus { border-color: var(--kc); box-shadow: 0 0 0 3px var(--kc-soft); }
.send { height: 38px; padding: 0 16px; border: 0; border-radius: 10px; background: var(--kc); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
.send:hover { background: var(--kc-dark); }
.powered { text-align: center; font-size: 10.5px; color: #b0b5bf; padding: 0 0 6px; background: #fff; }
.bubble.card-wrap { padding: 0; background: none !important; border: 0 !important; }
.card { width: 250px; max-width: 100%; background: #fff; border: 1px solid #e6e8ec; border-radius: 12px; overflow: hidden; color: #1f2430; }
.card-tag { font-size: 11px; color: #8d93a0; padding: 6px 10px 0; }
.card-body { display: flex; gap: 10px; padding: 6px 10px 10px; }
.card-img { width: 58px; height: 58px; border-radius: 8px; object-fit: cover; background: #f1f3f6; flex: none; }
.card-main { min-width: 0; display: flex; flex-direction: column; gap: 2px; }
.card-title { font-weight: 600; font-size: 13.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.card-sub { font-size: 12px; color: #5b6270; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.card-line { display: flex; gap: 8px; align-items: center; }
.card-price { color: #e4393c; font-weight: 600; }
.card-state { font-size: 11.5px; background: #fff1e6; color: #c2410c; border-radius: 4px; padding: 0 6px; }
.card-link { display: block; border-top: 1px solid #eef0f3; padding: 6px 10px; font-size: 12.5px; color: var(--kc); text-decoration: none; }
/* The shop may put the widget in the bottom-left corner (settings: widget.position). */
:host([data-position="left"]) .launcher { right: auto; left: 24px; }
:host([data-position="left"]) .panel { right: auto; left: 24px; }
/* The invitation beside the closed widget's button (settings: widget.greeting). */
.teaser { position: fixed; right: 92px; bottom: 34px; max-width: min(260px, calc(100vw - 120px)); background: #fff; color: #1f2430; border-radius: 12px; padding: 9px 30px 9px 12px;
  box-shadow: 0 8px 24px rgba(16, 24, 40, .16); font-family: -apple-system, BlinkMacSystemFont, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
  font-size: 13px; line-height: 1.45; cursor: pointer; border: 1px solid #eceef2; animation: pop .25s ease-out; }
.teaser::after { content: ""; position: absolute; right: -6px; bottom: 14px; width: 10px; height: 10px; background: #fff; border-right: 1px solid #eceef2; border-top: 1px solid #eceef2; transform: rotate(45deg); }
.teaser-close { position: absolute; top: 2px; right: 4px; border: 0; background: none; color: #8d93a0; font-size: 16px; line-height: 1; cursor: pointer; padding: 4px; }
:host([data-position="left"]) .teaser { right: auto; left: 92px; }
:host([data-position="left"]) .teaser::after { right: auto; left: -6px; border: 0; border-left: 1px solid #eceef2; border-bottom: 1px solid #eceef2; }
@media (max-width: 480px) {
  .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; border-radius: 0; }
  :host([data-position="left"]) .panel { left: 0; }
  .launcher.open { display: none; }
}
.attach { flex: none; width: 34px; height: 38px; border: 0; background: none; color: #6b7280; cursor: pointer; border-radius: 8px; display: grid; place-items: center; }
.attach:hover { color: var(--kc); background: var(--kc-soft); }
.att { max-width: 220px; }
.att-img { display: block; max-width: 200px; max-height: 200px; border-radius: 10px; background: #f1f3f6; cursor: zoom-in; object-fit: contain; }
.att-file { display: flex; gap: 8px; align-items: center; padding: 8px 10px; border: 1px solid #e6e8ec; border-radius: 10px; background: #fff; color: #1f2430; font: inherit; text-align: left; cursor: pointer; max-width: 220px; }
.att-icon { flex: none; width: 34px; height: 34px; border-radius: 8px; background: var(--kc-soft); color: var(--kc-dark); font-size: 10px; font-weight: 700; display: grid; place-items: center; }
.att-meta { min-width: 0; display: flex; flex-direction: column; }
.att-name { font-size: 13px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.att-meta small { color: #8d93a0; font-size: 11px; }
.att-error { color: #dc2626; font-size: 12px; margin-top: 4px; }
.lightbox { position: absolute; inset: 0; z-index: 5; background: rgba(0,0,0,.85); display: flex; align-items: center; justify-content: center; cursor: zoom-out; border-radius: inherit; }
.lightbox.hidden { display: none; }
.lightbox img { max-width: 96%; max-height: 96%; object-fit: contain; }
`
