import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { describeObjectStore } from './object-store-suite.ts';

describeObjectStore('filesystem', async () => new FsObjectStore(await temporaryDirectory('fs-store-')), { presign: false });
