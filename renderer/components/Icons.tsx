// A handful of 16px stroke icons, drawn inline so the CSP needs no font or image source.
import type { ReactElement } from 'react';

type P = { size?: number; className?: string };
const svg = (d: ReactElement, { size = 16, className }: P) => (
  <svg width={size} height={size} viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth={1.5}
    strokeLinecap="round" strokeLinejoin="round" className={className} aria-hidden="true">{d}</svg>
);

export const Logo = (p: P) => svg(<><circle cx="8" cy="8" r="6.2" /><circle cx="8" cy="8" r="2.6" fill="currentColor" stroke="none" /><path d="M8 1.8v2M8 12.2v2M1.8 8h2M12.2 8h2" /></>, p);
export const ImageIcon = (p: P) => svg(<><rect x="2" y="3" width="12" height="10" rx="1.5" /><circle cx="5.8" cy="6.3" r="1.1" /><path d="M2.5 12l3.8-3.6 2.4 2.2 2-1.8 2.8 2.8" /></>, p);
export const ModelIcon = (p: P) => svg(<><path d="M8 1.8l5.4 3.1v6.2L8 14.2l-5.4-3.1V4.9z" /><path d="M2.8 5L8 8l5.2-3M8 8v6" /></>, p);
export const ExportIcon = (p: P) => svg(<><path d="M8 10V2.5M5 5.3l3-3 3 3" /><path d="M3 9.5v3.2c0 .5.4.8.8.8h8.4c.4 0 .8-.3.8-.8V9.5" /></>, p);
export const EyeIcon = (p: P) => svg(<><path d="M1.5 8s2.4-4.5 6.5-4.5S14.5 8 14.5 8 12.1 12.5 8 12.5 1.5 8 1.5 8z" /><circle cx="8" cy="8" r="1.9" /></>, p);
export const EyeOffIcon = (p: P) => svg(<><path d="M2 2l12 12" /><path d="M6.3 4C6.8 3.7 7.4 3.5 8 3.5c4.1 0 6.5 4.5 6.5 4.5s-.7 1.4-2 2.6M10.2 11.8c-.7.4-1.4.7-2.2.7C3.9 12.5 1.5 8 1.5 8s.8-1.5 2.2-2.8" /></>, p);
export const ChevronDown = (p: P) => svg(<path d="M4 6l4 4 4-4" />, p);
export const HelpIcon = (p: P) => svg(<><circle cx="8" cy="8" r="6.2" /><path d="M6.2 6.2a1.9 1.9 0 0 1 3.7.4c0 1.3-1.9 1.6-1.9 2.8" /><circle cx="8" cy="11.6" r=".5" fill="currentColor" /></>, p);
export const GridIcon = (p: P) => svg(<><rect x="2" y="2" width="5" height="5" rx="1" /><rect x="9" y="2" width="5" height="5" rx="1" /><rect x="2" y="9" width="5" height="5" rx="1" /><rect x="9" y="9" width="5" height="5" rx="1" /></>, p);
export const CompareIcon = (p: P) => svg(<><rect x="1.5" y="3" width="5.5" height="10" rx="1" /><rect x="9" y="3" width="5.5" height="10" rx="1" /></>, p);
export const SingleIcon = (p: P) => svg(<rect x="2" y="2.5" width="12" height="11" rx="1.5" />, p);
export const PlusIcon = (p: P) => svg(<path d="M8 3v10M3 8h10" />, p);
export const MinusIcon = (p: P) => svg(<path d="M3 8h10" />, p);
export const FitIcon = (p: P) => svg(<path d="M2.5 6V2.5H6M10 2.5h3.5V6M13.5 10v3.5H10M6 13.5H2.5V10" />, p);
export const SunIcon = (p: P) => svg(<><circle cx="8" cy="8" r="2.8" /><path d="M8 1.5v1.5M8 13v1.5M1.5 8H3M13 8h1.5M3.4 3.4l1 1M11.6 11.6l1 1M3.4 12.6l1-1M11.6 4.4l1-1" /></>, p);
export const MoonIcon = (p: P) => svg(<path d="M13.2 10.1A5.6 5.6 0 0 1 5.9 2.8a5.6 5.6 0 1 0 7.3 7.3z" />, p);
export const AutoThemeIcon = (p: P) => svg(<><circle cx="8" cy="8" r="6" /><path d="M8 2a6 6 0 0 0 0 12z" fill="currentColor" /></>, p);
export const AlertIcon = (p: P) => svg(<><path d="M8 2L1.8 13h12.4z" /><path d="M8 6.3v3.2" /><circle cx="8" cy="11.3" r=".5" fill="currentColor" /></>, p);
export const DropIcon = (p: P) => svg(<><path d="M3 10.5v2c0 .6.4 1 1 1h8c.6 0 1-.4 1-1v-2" /><path d="M8 2.5v7.5M5 7l3 3 3-3" /></>, p);
export const CloseIcon = (p: P) => svg(<path d="M4 4l8 8M12 4l-8 8" />, p);
export const FolderIcon = (p: P) => svg(<path d="M2 4.5c0-.6.4-1 1-1h3.2l1.4 1.6H13c.6 0 1 .4 1 1V12c0 .6-.4 1-1 1H3c-.6 0-1-.4-1-1z" />, p);
