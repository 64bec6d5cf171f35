use actix_web::HttpResponse;

/// The OpenAPI description of every endpoint, compiled into the binary so it always matches it.
const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// `GET /openapi.yaml`.
pub async fn get_openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI_YAML)
}
