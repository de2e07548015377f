import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import { getContentHandler } from "./content.handlers";
import { getContent } from "./content.routes";
import {
  createDocumentHandler,
  deleteDocumentHandler,
  getDocumentHandler,
  updateDocumentHandler,
} from "./documents.handlers";
import {
  createDocument,
  deleteDocument,
  downloadDocument,
  getDocument,
  listDocuments,
  listVersions,
  updateDocument,
  uploadVersion,
} from "./documents.routes";
import { listDocumentsHandler } from "./list.handlers";
import { downloadHandler, listVersionsHandler, uploadVersionHandler } from "./versions.handlers";

const router = createRouter();
// Uploads are capped by their own limit while being read; every other body is small JSON.
router.on(["PUT"], "/api/v1/documents/*", jsonBodyLimit);

export const documentsRouter = router
  .openapi(listDocuments, listDocumentsHandler)
  .openapi(createDocument, createDocumentHandler)
  .openapi(getDocument, getDocumentHandler)
  .openapi(updateDocument, updateDocumentHandler)
  .openapi(deleteDocument, deleteDocumentHandler)
  .openapi(downloadDocument, downloadHandler)
  .openapi(listVersions, listVersionsHandler)
  .openapi(uploadVersion, uploadVersionHandler)
  .openapi(getContent, getContentHandler);
