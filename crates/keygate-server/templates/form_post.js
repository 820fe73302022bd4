document.getElementById("kg-form-post").submit();
