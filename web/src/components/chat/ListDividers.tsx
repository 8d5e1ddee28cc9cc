// The dividers of the message log: the day ("Today", "Yesterday", a date) and "New since you left".

export function DayDivider({ label }: { label: string }) {
  return (
    <div role="separator" aria-label={label} className="flex items-center gap-3 px-3 pb-1 pt-3">
      <span aria-hidden="true" className="h-px flex-1 bg-slate-200 dark:bg-slate-700" />
      <span aria-hidden="true" className="text-xs font-semibold text-slate-600 dark:text-slate-300">
        {label}
      </span>
      <span aria-hidden="true" className="h-px flex-1 bg-slate-200 dark:bg-slate-700" />
    </div>
  );
}

export function UnreadDivider() {
  return (
    <div role="separator" aria-label="New since you left" data-unread className="flex items-center gap-3 px-3 pb-1 pt-3">
      <span aria-hidden="true" className="h-px flex-1 bg-red-600 dark:bg-red-400" />
      <span aria-hidden="true" className="text-xs font-semibold text-red-700 dark:text-red-300">
        New since you left
      </span>
      <span aria-hidden="true" className="h-px flex-1 bg-red-600 dark:bg-red-400" />
    </div>
  );
}
