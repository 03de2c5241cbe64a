// Paste or drop files anywhere on the composer: they go through the Attach files dropzone
// (its hidden file input), so they are uploaded and checked exactly like picked files.
(() => {
  const UPLOAD = "#composer-upload";

  function composerOf(target) {
    const form = target && target.closest ? target.closest("form") : null;
    return form && form.querySelector(UPLOAD) ? form : null;
  }

  function attach(form, files) {
    const input = form.querySelector(`${UPLOAD} input[type=file]`);
    if (!input || !files || !files.length) return false;
    const transfer = new DataTransfer();
    for (const file of files) transfer.items.add(file);
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  const hasFiles = (data) => !!data && Array.from(data.types || []).includes("Files");

  document.addEventListener("paste", (event) => {
    const form = composerOf(event.target);
    const files = event.clipboardData && event.clipboardData.files;
    if (form && files && files.length && attach(form, files)) event.preventDefault();
  });
  document.addEventListener("dragover", (event) => {
    if (composerOf(event.target) && hasFiles(event.dataTransfer)) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    if (event.defaultPrevented) return; // the Attach files button's own dropzone took it
    const form = composerOf(event.target);
    if (form && hasFiles(event.dataTransfer) && attach(form, event.dataTransfer.files)) {
      event.preventDefault();
    }
  });
})();
