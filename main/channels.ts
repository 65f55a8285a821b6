// IPC channel names shared by main and the preload (the page never sees them).

export const CH = {
  appVersion: 'attnscope:app-version',
  openImageDialog: 'attnscope:open-image-dialog',
  openModelDialog: 'attnscope:open-model-dialog',
  chooseExportDir: 'attnscope:choose-export-dir',
  saveDialog: 'attnscope:save-dialog',
  recentFiles: 'attnscope:recent-files',
  openRecent: 'attnscope:open-recent',
  readChosenImage: 'attnscope:read-chosen-image',
  reveal: 'attnscope:reveal',
  enginePortRequest: 'attnscope:engine-port-request',
  /** main -> preload */
  enginePort: 'engine-port',
  engineStatus: 'engine-status',
  menuCommand: 'menu-command',
} as const;
