// UI texts of attachments (images and files in conversations), merged into the console's
// dictionaries by ../i18n.ts. `en` carries every key of `zh`.

export const zh = {
  'attach.button': '发送图片/文件',
  'attach.uploading': '正在上传 {name}（{p}%）',
  'attach.dropHint': '松开鼠标发送文件',
  'attach.tooLarge': '{name} 太大：图片最大 10 MB，其他文件最大 20 MB',
  'attach.badType': '{name} 的类型不支持（图片：jpg、png、gif、webp；文件：pdf、txt、csv、zip、docx、xlsx、pptx、mp4）',
  'attach.failed': '{name} 上传失败：{reason}',
  'attach.image': '图片',
  'attach.file': '文件',
  'attach.download': '下载',
  'attach.open': '查看原图',
  'attach.close': '关闭',
}

export const en: typeof zh = {
  'attach.button': 'Send an image or file',
  'attach.uploading': 'Uploading {name} ({p}%)',
  'attach.dropHint': 'Drop to send the file',
  'attach.tooLarge': '{name} is too large: images up to 10 MB, other files up to 20 MB',
  'attach.badType': '{name}: this type is not accepted (images: jpg, png, gif, webp; files: pdf, txt, csv, zip, docx, xlsx, pptx, mp4)',
  'attach.failed': 'Could not upload {name}: {reason}',
  'attach.image': 'Image',
  'attach.file': 'File',
  'attach.download': 'Download',
  'attach.open': 'Open full size',
  'attach.close': 'Close',
}
