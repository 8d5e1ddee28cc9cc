// A screen that fills the viewport (a chat) asks the shell for a fixed height: the shell is then exactly
// the viewport's height and only the screen's own panes scroll; other screens scroll the document.
import { createContext, useContext, useEffect } from "react";

export const FillContext = createContext<(fill: boolean) => void>(() => undefined);

/** Makes the shell exactly the viewport's height while the calling screen is mounted. */
export function useFillViewport(): void {
  const setFill = useContext(FillContext);
  useEffect(() => {
    setFill(true);
    return () => setFill(false);
  }, [setFill]);
}
