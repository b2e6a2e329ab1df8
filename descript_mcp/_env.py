"""The environment variables of Descript's own CLI, and the API's address."""

DEFAULT_API_URL = "https://descriptapi.com/v1"
API_KEY_ENV = "DESCRIPT_API_KEY"
API_URL_ENV = "DESCRIPT_API_URL"
