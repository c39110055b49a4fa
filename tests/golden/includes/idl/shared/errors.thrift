namespace * app.errors
exception NotFound { 1: string what }
