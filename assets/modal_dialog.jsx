// A native modal <dialog> that opens when its window event fires (use_modal.js), with the
// content given by Python: the shortcut help is built in components/shell.py. The content is
// mounted only while the dialog is open, so it starts fresh each time (autofocus included).
// A click on the backdrop closes it; so does Esc, natively.
import { useModal } from "$/public/use_modal.js";

export function ModalDialog({ event, children, ...rest }) {
  const { ref, open, close, onClose } = useModal(event);
  return (
    <dialog
      {...rest}
      ref={ref}
      onClose={onClose}
      onClick={(click) => click.target === ref.current && close()}
    >
      {open ? children : null}
    </dialog>
  );
}
